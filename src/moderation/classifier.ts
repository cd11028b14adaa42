/**
 * The shipped text classifier: two logistic-regression heads (spam, toxicity) over hashed word and
 * character n-grams. Weights come from `npm run train` and are loaded once per process.
 *
 * Spam is scored on the whole comment. Toxicity is scored per sentence and the most toxic sentence
 * counts, because news incivility is usually one insulting sentence inside an otherwise ordinary
 * comment; averaging it with the rest would hide it. The same windows drive the explanation spans.
 */
import { readFileSync } from 'node:fs';
import { extractFeatures, type FeatureOptions, type Features, MAX_TOKENS, type Token } from './features';
import type { Span } from './types';

export interface Head {
  bias: number;
  weights: Float32Array;
}

/**
 * How sentence margins become one comment margin: the most toxic sentence's margin, less
 * `perWindow` × ln(number of sentences), blended with the whole comment's margin by `whole`.
 * Why: a maximum over more sentences is higher by chance alone, so without the correction long,
 * harmless comments are held more often than short ones at the same threshold.
 */
export interface Aggregate {
  perWindow: number;
  whole: number;
  /**
   * Log-odds added to the spam margin when the comment has a structural sign of spam (see
   * `spamStructure`), and when it has none. Why: 95% of the YouTube spam we can learn from carries
   * a link or a self-promotion phrase, against a fifth of harmless comments, while the spam head,
   * trained on a few hundred YouTube comments, also scores ordinary short sentences high ("I have
   * friends from university"). Requiring the two to agree removes most of those false holds; the
   * offsets keep the hold threshold where other rules' mild spam scores (0.3) stay below it.
   */
  spamStructure?: { present: number; absent: number };
  /**
   * How the token head joins the toxicity margin: `weight` × max(0, the most toxic word's margin
   * less `perToken` × ln(number of words)), plus `offset` on every comment. Why: the sentence head
   * divides a sentence's evidence by the square root of its length, so one insult ("idiot",
   * "moron", "clown") in a long sentence of ordinary words is diluted; the token head, trained on
   * the words annotators marked in civil-toxic-spans, scores each word on its own. The length term
   * keeps long harmless comments from being held more often for having more words, and the offset
   * keeps the hold threshold at the same share of short harmless sentences held. The lift is at most
   * `cap` log-odds and never carries a comment past `ceiling`: the word head can turn a diluted
   * insult into a hold, while a reject stays the sentence head's call.
   */
  token?: { weight: number; perToken: number; offset: number; cap: number; ceiling: number };
}

export interface Model {
  options: FeatureOptions;
  spam: Head;
  toxicity: Head;
  /** Per-word toxicity head (its own, smaller bucket space: `weights.length` is a power of two). */
  token?: Head;
  aggregate: Aggregate;
}

export interface ModelMeta {
  format: 1 | 2;
  bits: number;
  charMin: number;
  charMax: number;
  heads: {
    spam: { bias: number; scale: number };
    toxicity: { bias: number; scale: number };
    /** The per-word head, stored after the other two with 2^bits weights. */
    token?: { bias: number; scale: number; bits: number };
  };
  aggregate?: Aggregate;
  trainedOn: string[];
}

/** Window of tokens [start, end) and the feature range [fStart, fEnd) its tokens own. */
export interface Window {
  start: number;
  end: number;
  fStart: number;
  fEnd: number;
}

export const MAX_WINDOW_TOKENS = 40;

/**
 * Sentence windows over the tokens: a window ends at . ! ? or a newline between two tokens, or
 * after MAX_WINDOW_TOKENS tokens. Features are emitted in token order, so each window owns a
 * contiguous feature range; whole-comment features (owner -1) sit after all token features.
 */
export function sentenceWindows(body: string, f: Features): Window[] {
  const { tokens, owner, count } = f;
  const last = Math.min(tokens.length, MAX_TOKENS);
  const firstFeature = new Int32Array(last).fill(-1);
  let tokenFeatures = 0;
  for (let i = 0; i < count; i++) {
    const o = owner[i]!;
    if (o < 0) break;
    if (firstFeature[o] === -1) firstFeature[o] = i;
    tokenFeatures = i + 1;
  }
  // nextFeature[t]: first feature of token t or of the next token that has any (identity terms have none).
  const nextFeature = new Int32Array(last + 1);
  nextFeature[last] = tokenFeatures;
  for (let t = last - 1; t >= 0; t--)
    nextFeature[t] = firstFeature[t] !== -1 ? firstFeature[t]! : nextFeature[t + 1]!;
  const windows: Window[] = [];
  let start = 0;
  for (let t = 0; t < last; t++) {
    if (
      t + 1 === last ||
      sentenceEnds(body, tokens[t]!.end, tokens[t + 1]!.start) ||
      t + 1 - start >= MAX_WINDOW_TOKENS
    ) {
      const fStart = nextFeature[start]!;
      const fEnd = nextFeature[t + 1]!;
      if (fEnd > fStart) windows.push({ start, end: t + 1, fStart, fEnd });
      start = t + 1;
    }
  }
  return windows;
}

/** Whether body[from, to) holds . ! ? or a newline; scanned in place, no slice or regex per gap. */
function sentenceEnds(body: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = body.charCodeAt(i);
    if (c === 46 || c === 33 || c === 63 || c === 10) return true;
  }
  return false;
}

/** Index of the first whole-comment feature. */
export function globalStart(f: Features): number {
  let i = f.count;
  while (i > 0 && f.owner[i - 1]! < 0) i--;
  return i;
}

/** Margin (log-odds) of one head over features [from, to) plus the whole-comment features. */
export function margin(head: Head, f: Features, from: number, to: number, gStart: number): number {
  const n = to - from + (f.count - gStart);
  if (n <= 0) return head.bias;
  const v = 1 / Math.sqrt(n);
  let z = 0;
  for (let i = from; i < to; i++) z += head.weights[f.buckets[i]!]!;
  for (let i = gStart; i < f.count; i++) z += head.weights[f.buckets[i]!]!;
  return head.bias + z * v;
}

export const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

export interface TextScores {
  spam: number;
  toxicity: number;
  /** Log-odds before the sigmoid, for combining with a site's adaptive model. */
  spamMargin: number;
  toxicityMargin: number;
  /** Character spans of the words that pushed toxicity up most, in the most toxic sentence. */
  toxicSpans: Span[];
  /** The sentence window that scored highest for toxicity. */
  window?: Window;
  features: Features;
}

// A link (scheme, www. or a bare domain with a country or common TLD) or a crypto wallet.
const LINKISH_RE =
  /https?:\/\/|www\.|\b[a-z0-9-]+\.(?:com|net|org|info|biz|ly|gl|io|co|me|tk|ru|tv|xyz|top|site|online|pl|br|de|uk|in|be)\b|\b[13][a-km-zA-HJ-NP-Z1-9]{25,34}\b/i;
// Self-promotion and engagement bait, the other half of comment spam.
const PROMO_RE =
  /\b(?:subscri\w*|subs?|subbed|channel|my (?:video|vid|videos|music|song|songs|page|site|new|youtube|cover|covers|account|rap|blog|playlist|first|band|app|stuff)|check (?:it |this |me |us |my |our )?out|follow me|click|free|visit|views?|money|earn|\$\d|facebook|twitter|instagram|download|promo|offer|giveaway|gift ?card|like (?:this|my|if)|thumbs up|please (?:like|share|help|check|look|vote|search|support)|share|search|look up|donate|vote)\b/i;

/** True when a body shows a structural sign of spam: a link, or a self-promotion phrase. */
export function spamStructure(body: string): boolean {
  return LINKISH_RE.test(body) || PROMO_RE.test(body);
}

/** Scores a body with the shipped model; pure given the model. */
export function scoreText(model: Model, body: string): TextScores {
  const f = extractFeatures(body, model.options);
  const g = globalStart(f);
  const windows = sentenceWindows(body, f);
  // Windows run in feature order, so the spam sum over all token features is added up alongside
  // the windows' toxicity sums, in the same order as margin() would: two independent chains of adds
  // interleave instead of waiting on each other, and each bucket is read once for both heads.
  const spam = model.spam.weights;
  const toxicity = model.toxicity.weights;
  const { buckets, count } = f;
  let zSpam = 0;
  let next = 0;
  let best = Number.NEGATIVE_INFINITY;
  let bestWindow: Window | undefined;
  for (const w of windows) {
    for (; next < w.fStart; next++) zSpam += spam[buckets[next]!]!;
    let zTox = 0;
    for (let i = w.fStart; i < w.fEnd; i++) {
      const b = buckets[i]!;
      zSpam += spam[b]!;
      zTox += toxicity[b]!;
    }
    next = w.fEnd;
    for (let i = g; i < count; i++) zTox += toxicity[buckets[i]!]!;
    const z = model.toxicity.bias + zTox * (1 / Math.sqrt(w.fEnd - w.fStart + (count - g)));
    if (z > best) {
      best = z;
      bestWindow = w;
    }
  }
  for (; next < g; next++) zSpam += spam[buckets[next]!]!;
  for (let i = g; i < count; i++) zSpam += spam[buckets[i]!]!;
  let spamMargin = count > 0 ? model.spam.bias + zSpam * (1 / Math.sqrt(count)) : model.spam.bias;
  const gate = model.aggregate.spamStructure;
  if (gate) spamMargin += spamStructure(body) ? gate.present : gate.absent;
  if (!bestWindow) best = margin(model.toxicity, f, 0, 0, g);
  const toxicSpans = bestWindow ? topTokens(model.toxicity, f, bestWindow) : [];
  let toxicityMargin = aggregateMargin(model, f, g, best, windows.length);
  const join = model.aggregate.token;
  if (join && model.token) {
    const word = maxTokenMargin(model.token, f, g);
    const excess = Math.max(0, word.margin - join.perToken * Math.log(word.count));
    const lift = Math.min(join.cap, join.weight * excess, Math.max(0, join.ceiling - toxicityMargin));
    toxicityMargin += join.offset + lift;
  }
  return {
    spam: sigmoid(spamMargin),
    toxicity: sigmoid(toxicityMargin),
    spamMargin,
    toxicityMargin,
    toxicSpans,
    window: bestWindow,
    features: f,
  };
}

/**
 * The token head's margin for its most toxic word, each word scored over the features it owns
 * (its unigram, the bigram ending at it, its character n-grams), and how many words had features.
 */
export function maxTokenMargin(head: Head, f: Features, g: number): { margin: number; count: number } {
  const w = head.weights;
  const mask = w.length - 1;
  const { buckets, owner } = f;
  let best = Number.NEGATIVE_INFINITY;
  let count = 0;
  for (let i = 0; i < g; ) {
    const o = owner[i]!;
    let z = 0;
    let j = i;
    for (; j < g && owner[j] === o; j++) z += w[buckets[j]! & mask]!;
    const m = head.bias + z / Math.sqrt(j - i);
    if (m > best) best = m;
    count++;
    i = j;
  }
  // A body with no word features (empty, emoji, only identity terms) gets no lift at all.
  return { margin: best, count: Math.max(1, count) };
}

/** The comment's toxicity margin from its most toxic sentence's (see Aggregate). */
export function aggregateMargin(model: Model, f: Features, g: number, best: number, windows: number): number {
  const { perWindow, whole } = model.aggregate;
  let z = best - perWindow * Math.log(Math.max(1, windows));
  if (whole > 0) z = (1 - whole) * z + whole * margin(model.toxicity, f, 0, g, g);
  return z;
}

/** Words whose features add the most to the toxicity margin (at most 3, and only positive ones). */
export function topTokens(head: Head, f: Features, w: Window, limit = 3): Span[] {
  if (w.fEnd <= w.fStart) return [];
  // Per-token sums in a typed array from the lowest owner: a window owns a short run of tokens.
  let lo = f.owner[w.fStart]!;
  let hi = lo;
  for (let i = w.fStart + 1; i < w.fEnd; i++) {
    const t = f.owner[i]!;
    if (t < lo) lo = t;
    else if (t > hi) hi = t;
  }
  const contrib = new Float64Array(hi - lo + 1);
  for (let i = w.fStart; i < w.fEnd; i++) contrib[f.owner[i]! - lo]! += head.weights[f.buckets[i]!]!;
  const ranked: number[] = [];
  for (let k = 0; k < contrib.length; k++) if (contrib[k]! > 0.3) ranked.push(k);
  return ranked
    .sort((a, b) => contrib[b]! - contrib[a]! || a - b)
    .slice(0, limit)
    .map((k) => f.tokens[k + lo] as Token)
    .map((tok) => ({ start: tok.start, end: tok.end }))
    .sort((a, b) => a.start - b.start);
}

/** Builds a model from its committed files (int8 weights with one scale per head). */
export function decodeModel(meta: ModelMeta, bin: Uint8Array): Model {
  const size = 1 << meta.bits;
  const tokenMeta = meta.heads.token;
  const tokenSize = tokenMeta ? 1 << tokenMeta.bits : 0;
  if (bin.length !== 2 * size + tokenSize)
    throw new Error(`model weights: expected ${2 * size + tokenSize} bytes, got ${bin.length}`);
  const head = (offset: number, h: { bias: number; scale: number }, n = size): Head => {
    const weights = new Float32Array(n);
    const q = new Int8Array(bin.buffer, bin.byteOffset + offset, n);
    for (let i = 0; i < n; i++) weights[i] = q[i]! * h.scale;
    return { bias: h.bias, weights };
  };
  return {
    options: { bits: meta.bits, charMin: meta.charMin, charMax: meta.charMax },
    spam: head(0, meta.heads.spam),
    toxicity: head(size, meta.heads.toxicity),
    ...(tokenMeta ? { token: head(2 * size, tokenMeta, tokenSize) } : {}),
    aggregate: meta.aggregate ?? { perWindow: 0, whole: 0 },
  };
}

/** Quantises float weights to int8 per head; the inverse of decodeModel. */
export function encodeHead(weights: Float32Array): { scale: number; bytes: Int8Array } {
  let max = 0;
  for (const w of weights) max = Math.max(max, Math.abs(w));
  const scale = max > 0 ? max / 127 : 1;
  const bytes = new Int8Array(weights.length);
  for (let i = 0; i < weights.length; i++) bytes[i] = Math.round(weights[i]! / scale);
  return { scale, bytes };
}

const MODEL_DIR = new URL('./model/', import.meta.url);
let loaded: Model | undefined;

/** The shipped model, read from src/moderation/model/ on first use and kept for the process. */
export function shippedModel(): Model {
  if (!loaded) {
    const meta = JSON.parse(readFileSync(new URL('meta.json', MODEL_DIR), 'utf8')) as ModelMeta;
    loaded = decodeModel(meta, new Uint8Array(readFileSync(new URL('weights.bin', MODEL_DIR))));
  }
  return loaded;
}
