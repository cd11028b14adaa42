/**
 * Trains the shipped spam and toxicity heads (`npm run train`) from the sets whose licences allow
 * shipped weights: youtube-spam, davidson, civil-toxic-spans, civil-comments-sample. Their held-out
 * split (20%, by text hash) is never read here; the dev split is only reported. Deterministic: fixed
 * seed, fixed order, no wall clock. Writes src/moderation/model/{weights.bin,meta.json}.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeModel,
  encodeHead,
  globalStart,
  type Head,
  type Model,
  type ModelMeta,
  margin,
  scoreText,
  sentenceWindows,
} from '../src/moderation/classifier';
import { DEFAULT_FEATURE_OPTIONS, extractFeatures, type FeatureOptions } from '../src/moderation/features';
import { rocAuc } from './lib/metrics';
import { DATA_DIR, dataAvailable, loadDatasets, type Row, rng } from './lib/moderation-data';

const MODEL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../src/moderation/model');
const OPTIONS: FeatureOptions = { ...DEFAULT_FEATURE_OPTIONS, bits: 17 };
const EPOCHS = 6;
const LEARNING_RATE = 0.2;
const L2 = 1e-6;
const SEED = 20240601;

interface Example {
  buckets: Uint32Array;
  y: 0 | 1;
  w: number;
  group: string;
}

/** Whole-comment example: every feature. */
function whole(text: string, y: 0 | 1, group: string): Example {
  const f = extractFeatures(text, OPTIONS);
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
): Example[] {
  const f = extractFeatures(text, OPTIONS);
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

/** Scales example weights so that each group sums to its share. */
function balance(examples: Example[], shares: Record<string, number>): Example[] {
  const totals = new Map<string, number>();
  for (const e of examples) totals.set(e.group, (totals.get(e.group) ?? 0) + e.w);
  const unit = examples.length / Object.values(shares).reduce((a, b) => a + b, 0);
  return examples
    .filter((e) => (shares[e.group] ?? 0) > 0)
    .map((e) => ({ ...e, w: (e.w * (shares[e.group] ?? 0) * unit) / (totals.get(e.group) ?? 1) }));
}

/** Logistic regression by AdaGrad SGD over L2-normalised binary features. */
function trainHead(examples: Example[], label: string): Head {
  const size = 1 << OPTIONS.bits;
  const weights = new Float32Array(size);
  const g2 = new Float32Array(size).fill(1e-8);
  let bias = 0;
  let biasG2 = 1e-8;
  const random = rng(SEED);
  const order = examples.map((_, i) => i);
  for (let epoch = 0; epoch < EPOCHS; epoch++) {
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
        const grad = g * v + L2 * weights[b]!;
        g2[b]! += grad * grad;
        weights[b]! -= (LEARNING_RATE * grad) / Math.sqrt(g2[b]!);
      }
      biasG2 += g * g;
      bias -= (LEARNING_RATE * g) / Math.sqrt(biasG2);
    }
    console.log(`  ${label} epoch ${epoch + 1}: mean loss ${(loss / examples.length).toFixed(4)}`);
  }
  return { bias, weights };
}

function report(model: Model, rows: Row[], name: string, head: 'spam' | 'toxicity', bad: string) {
  if (!rows.length) return;
  const scores = rows.map((r) => scoreText(model, r.text)[head]);
  const auc = rocAuc(
    scores,
    rows.map((r) => r.label === bad),
  );
  console.log(`  dev ${name}: ${rows.length} rows, ${head} AUC ${auc.toFixed(3)}`);
}

function main() {
  if (!dataAvailable()) {
    console.error(`train: ${DATA_DIR} is absent; the training data lives beside the repo, not in it.`);
    process.exit(1);
  }
  const started = Date.now();
  const d = loadDatasets();
  const train = (rows: Row[]) => rows.filter((r) => r.split === 'train');
  console.log('Reading (train split only, 65% by text hash; 20% held out, 15% dev):');
  for (const n of d.notes) if (!n.includes('measuring only')) console.log(`  ${n}`);

  const yt = train(d.youtube);
  const dav = train(d.davidson);
  const spans = train(d.toxicSpans);
  const civil = train(d.civil);
  console.log(
    `Using: youtube-spam ${yt.length}, davidson ${dav.length}, civil-toxic-spans ${spans.length}, civil-comments ${civil.length} rows`,
  );

  // Spam: YouTube spam against YouTube ham, plus news and tweets as "not spam" so that the head
  // learns what spam is rather than what YouTube is.
  const spamExamples = balance(
    [
      ...yt.map((r) => whole(r.text, r.label === 'spam' ? 1 : 0, r.label === 'spam' ? 'yt-spam' : 'yt-ham')),
      ...civil.map((r) => whole(r.text, 0, 'news')),
      ...spans.filter((_, i) => i % 4 === 0).map((r) => whole(r.text, 0, 'news')),
      ...dav.filter((_, i) => i % 4 === 0).map((r) => whole(r.text, 0, 'tweets')),
    ],
    { 'yt-spam': 2, 'yt-ham': 1, news: 0.7, tweets: 0.3 },
  );
  console.log(`Spam head: ${spamExamples.length} examples`);
  const spam = trainHead(spamExamples, 'spam');

  // Toxicity: news sentences (toxic spans vs the rest of the comment, civil clean), tweets, YouTube ham.
  const toxExamples = balance(
    [
      ...spans.flatMap((r) => sentences(r.text, r.spans?.length ? r.spans : undefined, 1, 'news-toxic')),
      ...civil.flatMap((r) =>
        r.label === 'toxic'
          ? [whole(r.text, 1, 'news-toxic')]
          : sentences(r.text, undefined, 0, 'news-clean'),
      ),
      ...dav.map((r) =>
        whole(r.text, r.label === 'toxic' ? 1 : 0, r.label === 'toxic' ? 'tw-toxic' : 'tw-clean'),
      ),
      ...yt.filter((r) => r.label === 'ok').map((r) => whole(r.text, 0, 'yt-clean')),
    ],
    {
      'news-toxic': 3,
      'news-toxic-rest': 1.5,
      'news-clean': 1.5,
      'tw-toxic': 1,
      'tw-clean': 1,
      'yt-clean': 0.3,
    },
  );
  console.log(`Toxicity head: ${toxExamples.length} examples`);
  const toxicity = trainHead(toxExamples, 'toxicity');

  const qs = encodeHead(spam.weights);
  const qt = encodeHead(toxicity.weights);
  const meta: ModelMeta = {
    format: 1,
    bits: OPTIONS.bits,
    charMin: OPTIONS.charMin,
    charMax: OPTIONS.charMax,
    heads: {
      spam: { bias: spam.bias, scale: qs.scale },
      toxicity: { bias: toxicity.bias, scale: qt.scale },
    },
    trainedOn: d.notes.filter((n) => !n.includes('measuring only')).map((n) => `${n} (train split)`),
  };
  const bin = new Uint8Array(2 << OPTIONS.bits);
  bin.set(new Uint8Array(qs.bytes.buffer), 0);
  bin.set(new Uint8Array(qt.bytes.buffer), 1 << OPTIONS.bits);
  writeFileSync(join(MODEL_DIR, 'weights.bin'), bin);
  writeFileSync(join(MODEL_DIR, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  console.log(`Wrote ${join(MODEL_DIR, 'weights.bin')} (${bin.length} bytes) and meta.json`);

  const model = decodeModel(meta, bin);
  const dev = (rows: Row[]) => rows.filter((r) => r.split === 'dev');
  report(model, dev(d.youtube), 'youtube-spam', 'spam', 'spam');
  report(model, dev(d.davidson), 'davidson', 'toxicity', 'toxic');
  report(model, [...dev(d.civil), ...dev(d.toxicSpans)], 'civil (spans + sample)', 'toxicity', 'toxic');
  report(model, dev(d.civil), 'civil-comments', 'toxicity', 'toxic');
  void margin;
  console.log(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main();
