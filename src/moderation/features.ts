/**
 * Tokeniser and hashed n-gram features shared by the shipped classifier, the per-site adaptive
 * model, the trainer and the near-duplicate fingerprint, so that all of them see a body the same way.
 */

/** A word of the body: normalised text plus its UTF-16 offsets (end exclusive) in the original. */
export interface Token {
  text: string;
  start: number;
  end: number;
}

// Letters, digits and combining marks form words; apostrophes inside words keep "don't" whole.
// Words are the matches of /[\p{L}\p{N}\p{M}]+(?:['’][\p{L}\p{N}\p{M}]+)*/gu, found by scanWords.
const URL_RE =
  /\b(?:https?:\/\/|www\.)[^\s<>"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|ly|co|io|info|biz|tk|ru|gl|me|tv)\b(?:\/[^\s<>"']*)?/giu;
const MENTION_RE = /@[\p{L}\p{N}_]+/gu;

/**
 * Identity terms are replaced by one placeholder that yields no features. Why: the training sets
 * mention identity groups far more often in toxic rows than in clean ones, so a model that sees the
 * terms learns to hold harmless sentences about them. Blind to the term, "my gay neighbour" and
 * "my christian neighbour" get exactly the same score; hate is still caught by what surrounds it.
 */
export const IDENTITY_TERMS: ReadonlySet<string> = new Set(
  (
    'gay gays lesbian lesbians bisexual bi queer lgbt lgbtq homosexual homosexuals heterosexual straight ' +
    'trans transgender transgendered transsexual nonbinary ' +
    'muslim muslims islam islamic jew jews jewish judaism christian christians christianity catholic ' +
    'catholics protestant hindu hindus sikh sikhs buddhist buddhists atheist atheists mormon mormons ' +
    'black blacks white whites asian asians latino latinos latina latinas hispanic hispanics african ' +
    'africans arab arabs mexican mexicans chinese indian indians native natives aboriginal indigenous ' +
    'immigrant immigrants migrant migrants refugee refugees foreigner foreigners ' +
    'woman women female females girl girls lady ladies man men male males boy boys ' +
    'disabled deaf blind elderly'
  ).split(' '),
);

export const IDENTITY_PLACEHOLDER = '\u0001id';

function lowerNormalise(word: string): string {
  // NFKC folds full-width and stylised letters ("ｋ", "𝐟") to plain ones; lower-casing after it.
  return word.normalize('NFKC').toLowerCase();
}

/**
 * Splits a body into word tokens, with URLs and @mentions as single placeholder tokens.
 * Offsets always point into the original string, whatever the normalisation did to the text.
 */
export function tokenize(body: string): Token[] {
  const tokens: Token[] = [];
  scanTokens(body, (text, start, end) => {
    tokens.push({ text, start, end });
  });
  return tokens;
}

/** The texts of `tokenize(body)`, without building a token per word (the fingerprint needs no offsets). */
export function tokenTexts(body: string): string[] {
  const texts: string[] = [];
  scanTokens(body, (text) => {
    texts.push(text);
  });
  return texts;
}

/** Calls `emit` for each token of the body in order of its start. */
function scanTokens(body: string, emit: (text: string, start: number, end: number) => void): void {
  const specials: Token[] = [];
  const masked = maskSpecials(body, specials);
  if (specials.length === 0) {
    scanWords(masked, emit);
    return;
  }
  // URLs, mentions and words never overlap, so one merge by start puts them in order.
  specials.sort((a, b) => a.start - b.start);
  let next = 0;
  scanWords(masked, (text, start, end) => {
    for (; next < specials.length && specials[next]!.start < start; next++) {
      const t = specials[next]!;
      emit(t.text, t.start, t.end);
    }
    emit(text, start, end);
  });
  for (; next < specials.length; next++) {
    const t = specials[next]!;
    emit(t.text, t.start, t.end);
  }
}

/**
 * Pushes the URL and @mention tokens of `body` and returns the body with them blanked out, same
 * length so that offsets hold; the body itself when it has none.
 */
function maskSpecials(body: string, tokens: Token[]): string {
  let masked = body;
  if (mayHaveUrl(body)) {
    // A URL never holds whitespace, so the regex only runs on the whitespace-delimited chunks that
    // could hold one; whitespace on either side reads to \b and [^\s] exactly as the chunk's ends do.
    for (let start = 0, i = 0, candidate = false; i <= body.length; i++) {
      const c = i < body.length ? body.charCodeAt(i) : 32;
      if (c === 32 || (c >= 9 && c <= 13)) {
        if (candidate) {
          const chunk = body.slice(start, i);
          URL_RE.lastIndex = 0;
          for (let m = URL_RE.exec(chunk); m; m = URL_RE.exec(chunk)) {
            const at = start + m.index;
            tokens.push({ text: '\u0001url', start: at, end: at + m[0].length });
            masked = blank(masked, at, at + m[0].length);
          }
        }
        start = i + 1;
        candidate = false;
      } else if (c === 46) {
        candidate ||= i + 1 < body.length && !NOT_AFTER_URL_DOT.includes(body.charCodeAt(i + 1));
      } else if (c === 58) {
        candidate ||= body.charCodeAt(i + 1) === 47 && body.charCodeAt(i + 2) === 47;
      }
    }
  }
  if (body.includes('@')) {
    MENTION_RE.lastIndex = 0;
    const text = masked;
    for (let m = MENTION_RE.exec(text); m; m = MENTION_RE.exec(text)) {
      tokens.push({ text: '\u0001user', start: m.index, end: m.index + m[0].length });
      masked = blank(masked, m.index, m.index + m[0].length);
    }
  }
  return masked;
}

// A module function, not a closure per call: tsx wraps every named closure in a __name call.
function blank(s: string, start: number, end: number): string {
  return s.slice(0, start) + ' '.repeat(end - start) + s.slice(end);
}

/**
 * False only when URL_RE cannot match: every match holds "://" or a "." followed by a character
 * other than whitespace, < > " or '. Most comments fail this test, and it costs less than the regex.
 */
function mayHaveUrl(body: string): boolean {
  if (body.includes('://')) return true;
  for (let i = body.indexOf('.'); i !== -1; i = body.indexOf('.', i + 1)) {
    if (i + 1 < body.length && !NOT_AFTER_URL_DOT.includes(body.charCodeAt(i + 1))) return true;
  }
  return false;
}
// Space, \t \n \v \f \r, " ' < >.
const NOT_AFTER_URL_DOT = [32, 9, 10, 11, 12, 13, 34, 39, 60, 62];

// The word regex by hand: letters, digits and marks (ASCII from a table, the rest by a one-character
// sticky regex), with ' or ’ inside words. Why: the regex's match objects and NFKC on every word
// were most of the tokeniser's cost, and most words are plain ASCII, whose NFKC is itself.
const ASCII_WORD = new Uint8Array(128);
for (let c = 0; c < 128; c++) ASCII_WORD[c] = /[\p{L}\p{N}\p{M}]/u.test(String.fromCharCode(c)) ? 1 : 0;
const WORD_CHAR_RE = /[\p{L}\p{N}\p{M}]/uy;

/** UTF-16 length of the word character at i, or 0 when the code point there is none. */
function wordCharAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 128) return ASCII_WORD[c]!;
  if (i >= s.length) return 0;
  WORD_CHAR_RE.lastIndex = i;
  return WORD_CHAR_RE.test(s) ? WORD_CHAR_RE.lastIndex - i : 0;
}

/** Calls `emit` for each match of the word regex in `s`, in order, with its normalised (or identity) text. */
function scanWords(s: string, emit: (text: string, start: number, end: number) => void): void {
  const n = s.length;
  let i = 0;
  while (i < n) {
    let w = wordCharAt(s, i);
    if (w === 0) {
      // Step over a whole code point, as the /u regex does, so a pair is never split.
      const c = s.charCodeAt(i);
      i += c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      continue;
    }
    const start = i;
    let upper = false;
    let ascii = true;
    for (;;) {
      do {
        const c = s.charCodeAt(i);
        if (c >= 128) ascii = false;
        else if (c <= 90 && c >= 65) upper = true;
        i += w;
        w = wordCharAt(s, i);
      } while (w !== 0);
      const c = s.charCodeAt(i);
      if ((c === 39 || c === 0x2019) && wordCharAt(s, i + 1) !== 0) {
        if (c !== 39) ascii = false;
        i++;
        w = wordCharAt(s, i);
        continue;
      }
      break;
    }
    const raw = s.slice(start, i);
    const text = !ascii ? lowerNormalise(raw) : upper ? raw.toLowerCase() : raw;
    emit(IDENTITY_TERMS.has(text) ? IDENTITY_PLACEHOLDER : text, start, i);
  }
}

/** FNV-1a over UTF-16 code units from `from` to `to`, continuing from `h`. */
export function fnv1a(s: string, h = 0x811c9dc5, from = 0, to = s.length): number {
  let x = h >>> 0;
  for (let i = from; i < to; i++) {
    x ^= s.charCodeAt(i);
    x = Math.imul(x, 0x01000193);
  }
  return x >>> 0;
}

/** A final avalanche so that nearby FNV values spread over the buckets (murmur3's fmix32). */
export function mix32(h: number): number {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

// Distinct seeds per feature kind so that the word "abc" and the trigram "abc" never share a hash.
const SEED_WORD = 0x811c9dc5;
const SEED_BIGRAM = 0x2545f491;
const SEED_CHAR = 0x9e3779b9;
const SEED_SHAPE = 0x7f4a7c15;

export interface FeatureOptions {
  /** log2 of the number of buckets. */
  bits: number;
  /** Character n-gram lengths, inclusive (code points, inside a word padded with spaces). */
  charMin: number;
  charMax: number;
}

export const DEFAULT_FEATURE_OPTIONS: FeatureOptions = { bits: 18, charMin: 3, charMax: 5 };

/**
 * Hashed features of a body: for each, the bucket and the token it came from (so scores can be
 * explained as character spans). Features are word unigrams, word bigrams, character n-grams of
 * each word and a few shape features (shouting, long digit runs). Deterministic and pure.
 */
export interface Features {
  tokens: Token[];
  /** Bucket per feature. */
  buckets: Uint32Array;
  /** Index into `tokens` per feature (-1 for whole-comment features). */
  owner: Int32Array;
  count: number;
}

// Reused scratch space: the pipeline is synchronous inside a rule, so one buffer per process is safe.
let scratchBuckets = new Uint32Array(4096);
let scratchOwner = new Int32Array(4096);
// The padded word being cut into character n-grams: its code units and its code points' starts.
let units = new Uint16Array(64);
let starts = new Int32Array(65);

/** Grows the feature scratch space to hold at least `size` features, keeping what it holds. */
function reserve(size: number): void {
  if (size <= scratchBuckets.length) return;
  let length = scratchBuckets.length * 2;
  while (length < size) length *= 2;
  const b = new Uint32Array(length);
  b.set(scratchBuckets);
  scratchBuckets = b;
  const o = new Int32Array(length);
  o.set(scratchOwner);
  scratchOwner = o;
}

/** At most this many tokens are featurised; the rest of a very long body adds little and costs time. */
export const MAX_TOKENS = 400;

const FNV_PRIME = 0x01000193;
const BOS = fnv1a('\u0002bos', SEED_BIGRAM);

export function extractFeatures(body: string, opts: FeatureOptions = DEFAULT_FEATURE_OPTIONS): Features {
  const tokens = tokenize(body);
  const mask = (1 << opts.bits) - 1;
  const limit = Math.min(tokens.length, MAX_TOKENS);
  let n = 0;
  let prev = BOS;
  for (let t = 0; t < limit; t++) {
    const word = tokens[t]!.text;
    // Identity terms add no feature at all (not even in bigrams): the model is blind to which group
    // a sentence names, and judges it only by what it says about them.
    if (word === IDENTITY_PLACEHOLDER) continue;
    // The word's hash, the bigram's (the previous word's hash and this word) and the word's hash as
    // the next bigram's start: three fnv1a folds, done in one pass over the word.
    let unigram = SEED_WORD;
    let bigram = prev ^ SEED_BIGRAM;
    let next = SEED_BIGRAM;
    for (let i = 0; i < word.length; i++) {
      const c = word.charCodeAt(i);
      unigram = Math.imul(unigram ^ c, FNV_PRIME);
      bigram = Math.imul(bigram ^ c, FNV_PRIME);
      next = Math.imul(next ^ c, FNV_PRIME);
    }
    reserve(n + 2);
    scratchBuckets[n] = mix32(unigram) & mask;
    scratchOwner[n++] = t;
    scratchBuckets[n] = mix32(bigram) & mask;
    scratchOwner[n++] = t;
    prev = next >>> 0;
    if (word.charCodeAt(0) === 1) continue;
    n = charGrams(word, t, n, opts, mask);
  }
  n = shapeFeatures(body, tokens, n, mask);
  return {
    tokens,
    buckets: scratchBuckets.slice(0, n),
    owner: scratchOwner.slice(0, n),
    count: n,
  };
}

/** Character n-grams over code points of " word ", so surrogate pairs are never split. */
function charGrams(word: string, owner: number, n0: number, opts: FeatureOptions, mask: number): number {
  // The padded word's code units, copied once instead of building " word " as a string.
  const length = word.length + 2;
  if (units.length < length) {
    units = new Uint16Array(2 * length);
    starts = new Int32Array(2 * length + 1);
  }
  units[0] = 32;
  for (let i = 0; i < word.length; i++) units[i + 1] = word.charCodeAt(i);
  units[length - 1] = 32;
  // Code-point start offsets of the padded word (in UTF-16 units).
  let cps = 0;
  for (let i = 0; i < length; ) {
    starts[cps++] = i;
    const c = units[i]!;
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < length ? 2 : 1;
  }
  starts[cps] = length;
  reserve(n0 + Math.max(0, opts.charMax - opts.charMin + 1) * (cps + 1));
  let n = n0;
  for (let len = opts.charMin; len <= opts.charMax; len++) {
    const seed = SEED_CHAR + len;
    for (let i = 0; i + len <= cps; i++) {
      let h = seed | 0;
      for (let k = starts[i]!, to = starts[i + len]!; k < to; k++) h = Math.imul(h ^ units[k]!, FNV_PRIME);
      scratchBuckets[n] = mix32(h) & mask;
      scratchOwner[n++] = owner;
    }
  }
  return n;
}

// Shape features are fixed names, so their hashes are computed once.
const shapeHash = (name: string) => mix32(fnv1a(name, SEED_SHAPE));
const SHAPE_BIAS = shapeHash('bias');
const SHAPE_SHOUTING = shapeHash('shouting');
const SHAPE_LEN = [
  shapeHash('len:tiny'),
  shapeHash('len:short'),
  shapeHash('len:mid'),
  shapeHash('len:long'),
];
const SHAPE_DIGITS = shapeHash('digits');
const SHAPE_BANGS = shapeHash('bangs');
const DIGITS_RE = /\d{5,}/;
const BANGS_RE = /!{3,}/;

function shapeFeatures(body: string, tokens: Token[], n0: number, mask: number): number {
  reserve(n0 + 5);
  scratchOwner.fill(-1, n0, n0 + 5);
  let n = n0;
  scratchBuckets[n++] = SHAPE_BIAS & mask;
  let upper = 0;
  let letters = 0;
  for (let i = 0; i < body.length && i < 2000; i++) {
    const c = body.charCodeAt(i);
    if (c >= 65 && c <= 90) upper++;
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) letters++;
  }
  if (letters >= 12 && upper / letters > 0.6) scratchBuckets[n++] = SHAPE_SHOUTING & mask;
  const words = tokens.length;
  scratchBuckets[n++] = SHAPE_LEN[words <= 3 ? 0 : words <= 12 ? 1 : words <= 60 ? 2 : 3]! & mask;
  if (DIGITS_RE.test(body)) scratchBuckets[n++] = SHAPE_DIGITS & mask;
  if (BANGS_RE.test(body)) scratchBuckets[n++] = SHAPE_BANGS & mask;
  return n;
}
