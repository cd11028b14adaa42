/**
 * Trains the shipped spam and toxicity heads (`npm run train`) from the sets whose licences allow
 * shipped weights: youtube-spam, davidson, civil-toxic-spans, civil-comments-sample. Their held-out
 * split (20%, by text hash) is never read here; the dev split is only reported. Deterministic: fixed
 * seed, fixed order, no wall clock. Writes src/moderation/model/{weights.bin,meta.json}.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Model, scoreText } from '../src/moderation/classifier';
import { rocAuc } from './lib/metrics';
import { DATA_DIR, dataAvailable, loadDatasets, type Row } from './lib/moderation-data';
import { trainModel } from './lib/trainer';

const MODEL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../src/moderation/model');

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
  console.log('Reading (train split only, 65% by text hash; 20% held out, 15% dev):');
  for (const n of d.notes) if (!n.includes('measuring only')) console.log(`  ${n}`);

  const { model, meta, bin } = trainModel(d);
  writeFileSync(join(MODEL_DIR, 'weights.bin'), bin);
  writeFileSync(join(MODEL_DIR, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  console.log(`Wrote ${join(MODEL_DIR, 'weights.bin')} (${bin.length} bytes) and meta.json`);

  const dev = (rows: Row[]) => rows.filter((r) => r.split === 'dev');
  report(model, dev(d.youtube), 'youtube-spam', 'spam', 'spam');
  report(model, dev(d.davidson), 'davidson', 'toxicity', 'toxic');
  report(model, [...dev(d.civil), ...dev(d.toxicSpans)], 'civil (spans + sample)', 'toxicity', 'toxic');
  report(model, dev(d.civil), 'civil-comments', 'toxicity', 'toxic');
  console.log(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main();
