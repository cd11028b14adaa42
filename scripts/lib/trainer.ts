/**
 * The training procedure behind `npm run train`, as a library so that experiments on the dev split
 * (and the out-of-fold runs behind threshold tuning) train exactly the way the shipped model is
 * trained. Deterministic: fixed seed, fixed order, no wall clock.
 */
import {
  type Aggregate,
  decodeModel,
  encodeHead,
  globalStart,
  type Head,
  type Model,
  type ModelMeta,
  sentenceWindows,
} from '../../src/moderation/classifier';
import { DEFAULT_FEATURE_OPTIONS, extractFeatures, type FeatureOptions } from '../../src/moderation/features';
import { type Datasets, type Row, rng } from './moderation-data';

export interface TrainConfig {
  bits: number;
  /** log2 of the token head's buckets (the feature buckets folded by a mask); 0 = no token head. */
  tokenBits: number;
  /** Word-example weight per group for the token head, as shares of the total (see `balance`). */
  tokenShares: Record<string, number>;
  epochs: number;
  learningRate: number;
  l2: number;
  seed: number;
  /** Example weight per group, as shares of the total (see `balance`). */
  spamShares: Record<string, number>;
  toxicityShares: Record<string, number>;
  /** Train on the civil-comments weak negatives (scores under 0.2 / "not toxic"). */
  weakClean: boolean;
  aggregate: Aggregate;
  /** Which rows may be trained on: the train split for the shipped model. */
  trainable: (r: Row) => boolean;
  log: (line: string) => void;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  bits: 17,
  tokenBits: 16,
  tokenShares: {
    'word-toxic': 1,
    'word-rest': 1,
    'word-clean': 1,
    'word-weak': 1,
    'word-tw-clean': 0.5,
    'word-yt-clean': 0.2,
  },
  epochs: 6,
  learningRate: 0.2,
  l2: 1e-4,
  seed: 20240601,
  spamShares: { 'yt-spam': 2, 'yt-ham': 1, news: 0.7, tweets: 0.3 },
  toxicityShares: {
    'news-toxic': 3,
    'news-toxic-rest': 1.5,
    'news-clean': 1.5,
    'news-weak': 1.5,
    'tw-toxic': 1,
    'tw-clean': 1,
    'yt-clean': 0.3,
  },
  weakClean: true,
  // Chosen on the dev split: with 0.5 the hold rate of harmless dev comments stays flat whether
  // they are scored alone or concatenated 2, 3 or 5 at a time (0.16/0.14/0.14/0.12 at one
  // threshold; with 0 it rose 0.13/0.23/0.33/0.46), and dev AUC rose too.
  // The structural gate, chosen on the dev split: 4 log-odds between comments with and without a
  // link or self-promotion phrase lifts YouTube spam AUC from 0.952 to 0.983; the +2.4 puts the
  // raw-probability cut of 0.12 (2.5% of harmless YouTube, 1.6% of harmless news dev comments
  // held, 94% of dev spam caught) at the policy's hold threshold of 0.6.
  // The word head's join (Aggregate.token), chosen on the dev split: weight 1 with 0.5 per ln(words)
  // keeps harmless dev news comments concatenated 1, 2, 3, 5 at a time held at a flat
  // 0.13/0.12/0.10/0.10 (0.13/0.18/0.22/0.25 at weight 0.5 without it); the cap of 1 log-odds and the
  // ceiling of 4.6 (0.99) keep rejects the sentence head's call (with neither, 4 of 898 harmless dev
  // comments crossed 0.995 instead of 1); the offset -0.2 holds no more short (4-15 word) harmless
  // dev sentences at 0.63 than before (3.5% against 3.7%), so the thresholds keep their meaning.
  aggregate: {
    perWindow: 0.5,
    whole: 0,
    spamStructure: { present: 2.4, absent: -1.6 },
    token: { weight: 1, perToken: 0.5, offset: -0.2, cap: 1, ceiling: 4.6 },
  },
  trainable: (r) => r.split === 'train',
  log: (line) => console.log(line),
};

interface Example {
  buckets: Uint32Array;
  y: 0 | 1;
  w: number;
  group: string;
}

function whole(text: string, y: 0 | 1, group: string, opts: FeatureOptions): Example {
  const f = extractFeatures(text, opts);
  return { buckets: f.buckets, y, w: 1, group };
}

/**
 * Sentence examples for toxicity: a sentence overlapping a toxic span is positive; the other
 * sentences of a toxic comment are negatives. Why: they teach the model that the topic of a toxic
 * thread (politics, religion, a named group) is not itself toxic, which is what fails on news.
 */
function sentences(
  text: string,
  spans: Array<[number, number]> | undefined,
  y: 0 | 1,
  group: string,
  opts: FeatureOptions,
): Example[] {
  const f = extractFeatures(text, opts);
  const g = globalStart(f);
  const global = f.buckets.subarray(g, f.count);
  return sentenceWindows(text, f).map((w) => {
    const buckets = new Uint32Array(w.fEnd - w.fStart + global.length);
    buckets.set(f.buckets.subarray(w.fStart, w.fEnd));
    buckets.set(global, w.fEnd - w.fStart);
    if (!spans) return { buckets, y, w: 1, group };
    const s = f.tokens[w.start]!.start;
    const e = f.tokens[w.end - 1]!.end;
    const hit = spans.some(([a, b]) => a < e && b > s);
    return { buckets, y: hit ? 1 : 0, w: 1, group: hit ? group : `${group}-rest` };
  });
}

/** Scales example weights so that each group sums to its share; groups with no share are dropped. */
function balance(examples: Example[], shares: Record<string, number>): Example[] {
  const totals = new Map<string, number>();
  for (const e of examples) totals.set(e.group, (totals.get(e.group) ?? 0) + e.w);
  const present = Object.entries(shares).filter(([g]) => totals.has(g));
  const unit = examples.length / present.reduce((a, [, s]) => a + s, 0);
  return examples
    .filter((e) => (shares[e.group] ?? 0) > 0)
    .map((e) => ({ ...e, w: (e.w * (shares[e.group] ?? 0) * unit) / (totals.get(e.group) ?? 1) }));
}

/**
 * Word examples for the token head: each word's own features (unigram, the bigram ending at it,
 * character n-grams), folded into 2^bits buckets. With spans, a word overlapping a toxic span is
 * positive and the comment's other words negative; without, every word is negative.
 */
function words(
  text: string,
  spans: Array<[number, number]> | undefined,
  group: string,
  opts: FeatureOptions,
  bits: number,
): Example[] {
  const f = extractFeatures(text, opts);
  const mask = (1 << bits) - 1;
  const out: Example[] = [];
  const g = globalStart(f);
  for (let i = 0; i < g; ) {
    const o = f.owner[i]!;
    let j = i;
    while (j < g && f.owner[j] === o) j++;
    const buckets = f.buckets.slice(i, j).map((b) => b & mask);
    const tok = f.tokens[o]!;
    const hit = spans ? spans.some(([a, b]) => a < tok.end && b > tok.start) : false;
    out.push({
      buckets,
      y: hit ? 1 : 0,
      w: 1,
      group: spans ? (hit ? `${group}-toxic` : `${group}-rest`) : group,
    });
    i = j;
  }
  return out;
}

/** Logistic regression by AdaGrad SGD over L2-normalised binary features. */
function trainHead(examples: Example[], label: string, cfg: TrainConfig, bits = cfg.bits): Head {
  const size = 1 << bits;
  const weights = new Float32Array(size);
  const g2 = new Float32Array(size).fill(1e-8);
  let bias = 0;
  let biasG2 = 1e-8;
  const random = rng(cfg.seed);
  const order = examples.map((_, i) => i);
  for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    let loss = 0;
    for (const k of order) {
      const e = examples[k]!;
      const v = 1 / Math.sqrt(Math.max(1, e.buckets.length));
      let z = bias;
      for (const b of e.buckets) z += weights[b]! * v;
      const p = 1 / (1 + Math.exp(-z));
      loss += -e.w * Math.log(e.y ? Math.max(p, 1e-12) : Math.max(1 - p, 1e-12));
      const g = (p - e.y) * e.w;
      for (const b of e.buckets) {
        const grad = g * v + cfg.l2 * weights[b]!;
        g2[b]! += grad * grad;
        weights[b]! -= (cfg.learningRate * grad) / Math.sqrt(g2[b]!);
      }
      biasG2 += g * g;
      bias -= (cfg.learningRate * g) / Math.sqrt(biasG2);
    }
    cfg.log(`  ${label} epoch ${epoch + 1}: mean loss ${(loss / examples.length).toFixed(4)}`);
  }
  return { bias, weights };
}

export interface Trained {
  model: Model;
  meta: ModelMeta;
  bin: Uint8Array;
}

/** Trains both heads on the trainable rows of the permitted sets and quantises them. */
export function trainModel(d: Datasets, config: Partial<TrainConfig> = {}): Trained {
  const cfg: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...config };
  const opts: FeatureOptions = { ...DEFAULT_FEATURE_OPTIONS, bits: cfg.bits };
  const pick = (rows: Row[]) => rows.filter(cfg.trainable);
  const yt = pick(d.youtube);
  const dav = pick(d.davidson);
  const spans = pick(d.toxicSpans);
  const civil = pick(d.civil);
  const weak = cfg.weakClean ? pick(d.civilWeak) : [];
  cfg.log(
    `Using: youtube-spam ${yt.length}, davidson ${dav.length}, civil-toxic-spans ${spans.length}, civil-comments ${civil.length}, weak negatives ${weak.length} rows`,
  );

  // Spam: YouTube spam against YouTube ham, plus news and tweets as "not spam" so that the head
  // learns what spam is rather than what YouTube is.
  const spamExamples = balance(
    [
      ...yt.map((r) =>
        whole(r.text, r.label === 'spam' ? 1 : 0, r.label === 'spam' ? 'yt-spam' : 'yt-ham', opts),
      ),
      ...civil.map((r) => whole(r.text, 0, 'news', opts)),
      ...weak.map((r) => whole(r.text, 0, 'news', opts)),
      ...spans.filter((_, i) => i % 4 === 0).map((r) => whole(r.text, 0, 'news', opts)),
      ...dav.filter((_, i) => i % 4 === 0).map((r) => whole(r.text, 0, 'tweets', opts)),
    ],
    cfg.spamShares,
  );
  cfg.log(`Spam head: ${spamExamples.length} examples`);
  const spam = trainHead(spamExamples, 'spam', cfg);

  // Toxicity: news sentences (toxic spans vs the rest of the comment, civil clean), tweets, YouTube ham.
  const toxExamples = balance(
    [
      ...spans.flatMap((r) =>
        sentences(r.text, r.spans?.length ? r.spans : undefined, 1, 'news-toxic', opts),
      ),
      ...civil.flatMap((r) =>
        r.label === 'toxic'
          ? [whole(r.text, 1, 'news-toxic', opts)]
          : sentences(r.text, undefined, 0, 'news-clean', opts),
      ),
      ...weak.flatMap((r) => sentences(r.text, undefined, 0, 'news-weak', opts)),
      ...dav.map((r) =>
        whole(r.text, r.label === 'toxic' ? 1 : 0, r.label === 'toxic' ? 'tw-toxic' : 'tw-clean', opts),
      ),
      ...yt.filter((r) => r.label === 'ok').map((r) => whole(r.text, 0, 'yt-clean', opts)),
    ],
    cfg.toxicityShares,
  );
  cfg.log(`Toxicity head: ${toxExamples.length} examples`);
  const toxicity = trainHead(toxExamples, 'toxicity', cfg);

  // Token head: words inside the annotated toxic spans against the other words of those comments
  // and the words of clean news, tweets and YouTube comments.
  let token: Head | undefined;
  if (cfg.tokenBits > 0) {
    const b = cfg.tokenBits;
    const wordExamples = balance(
      [
        ...spans.flatMap((r) => (r.spans?.length ? words(r.text, r.spans, 'word', opts, b) : [])),
        ...civil.flatMap((r) => (r.label === 'ok' ? words(r.text, undefined, 'word-clean', opts, b) : [])),
        ...weak.flatMap((r) => words(r.text, undefined, 'word-weak', opts, b)),
        ...dav.flatMap((r) => (r.label === 'ok' ? words(r.text, undefined, 'word-tw-clean', opts, b) : [])),
        ...yt.flatMap((r) => (r.label === 'ok' ? words(r.text, undefined, 'word-yt-clean', opts, b) : [])),
      ],
      cfg.tokenShares,
    );
    cfg.log(`Token head: ${wordExamples.length} word examples`);
    token = trainHead(wordExamples, 'token', cfg, b);
  }

  const qs = encodeHead(spam.weights);
  const qt = encodeHead(toxicity.weights);
  const qw = token ? encodeHead(token.weights) : undefined;
  const meta: ModelMeta = {
    format: 2,
    bits: opts.bits,
    charMin: opts.charMin,
    charMax: opts.charMax,
    heads: {
      spam: { bias: spam.bias, scale: qs.scale },
      toxicity: { bias: toxicity.bias, scale: qt.scale },
      ...(token && qw ? { token: { bias: token.bias, scale: qw.scale, bits: cfg.tokenBits } } : {}),
    },
    aggregate: token ? cfg.aggregate : { ...cfg.aggregate, token: undefined },
    trainedOn: d.notes.filter((n) => !n.includes('measuring only')).map((n) => `${n} (train split)`),
  };
  const bin = new Uint8Array((2 << opts.bits) + (qw ? qw.bytes.length : 0));
  bin.set(new Uint8Array(qs.bytes.buffer), 0);
  bin.set(new Uint8Array(qt.bytes.buffer), 1 << opts.bits);
  if (qw) bin.set(new Uint8Array(qw.bytes.buffer), 2 << opts.bits);
  return { model: decodeModel(meta, bin), meta, bin };
}
