/**
 * `npm run eval -- FILE.jsonl ...` measures the workers' pipeline (default policy, no history) on
 * labelled lines ({"text", "label": "spam" | "toxic" | "ok"}), side by side with the anchors' default
 * (banned words reject, any link holds).
 * `npm run eval -- --builtin` builds the held-out sets from ../shared/moderation-data and prints the
 * table quoted in docs/moderation.md. `--dev` does the same on the dev split and `--tune` prints the
 * thresholds the dev split suggests (the only data thresholds are chosen on).
 */
import { readFileSync } from 'node:fs';
import type { Policy } from '../src/moderation/policy';
import { defaultPolicy } from '../src/moderation/policy';
import { findLinks } from '../src/moderation/rules/links';
import { englishProfanity } from '../src/moderation/rules/words';
import type { ModerationDecision, Outcome } from '../src/moderation/types';
import { rocAuc, thresholdForRate } from './lib/metrics';
import { DATA_DIR, dataAvailable, type Label, loadDatasets, type Row } from './lib/moderation-data';
import { moderate } from './lib/runner';

export interface Labelled {
  text: string;
  label: Label;
  /** Identity term, for the fairness set. */
  term?: string;
}

interface Result {
  outcome: Outcome;
  score: number;
}

interface Metrics {
  n: number;
  bad: number;
  caught: number;
  rejected: number;
  falseHold: number;
  falseReject: number;
  auc: number;
}

function measure(rows: Labelled[], results: Result[]): Metrics {
  let bad = 0;
  let caught = 0;
  let rejected = 0;
  let ok = 0;
  let falseHold = 0;
  let falseReject = 0;
  rows.forEach((r, i) => {
    const o = results[i]!.outcome;
    if (r.label === 'ok') {
      ok++;
      if (o !== 'publish') falseHold++;
      if (o === 'reject') falseReject++;
    } else {
      bad++;
      if (o !== 'publish') caught++;
      if (o === 'reject') rejected++;
    }
  });
  return {
    n: rows.length,
    bad,
    caught: bad ? caught / bad : Number.NaN,
    rejected: bad ? rejected / bad : Number.NaN,
    falseHold: ok ? falseHold / ok : Number.NaN,
    falseReject: ok ? falseReject / ok : Number.NaN,
    auc: rocAuc(
      results.map((r) => r.score),
      rows.map((r) => r.label !== 'ok'),
    ),
  };
}

/** The score a file's AUC is computed from: the classifier category its bad rows belong to. */
function scoreFor(d: ModerationDecision, rows: Labelled[]): number {
  const spam = rows.some((r) => r.label === 'spam');
  const toxic = rows.some((r) => r.label === 'toxic');
  const s = d.scores.spam ?? 0;
  const t = d.scores.toxicity ?? 0;
  // A rule's outright reject or hold ranks above any score, as it does in the decision.
  const bump = d.outcome === 'reject' ? 2 : 0;
  return bump + (spam && !toxic ? s : toxic && !spam ? t : Math.max(s, t));
}

export async function runParley(rows: Labelled[], policy: Policy = defaultPolicy): Promise<Result[]> {
  const out: Result[] = [];
  for (let i = 0; i < rows.length; i++) {
    const d = await moderate({ text: rows[i]!.text }, i, policy);
    out.push({ outcome: d.outcome, score: scoreFor(d, rows) });
  }
  return out;
}

/** What the anchors do by default: a banned-word list rejects, any link holds. */
export function runBaseline(rows: Labelled[]): Result[] {
  const words = englishProfanity();
  return rows.map((r) => {
    const outcome: Outcome = words.find(r.text).length
      ? 'reject'
      : findLinks(r.text).length
        ? 'hold'
        : 'publish';
    return { outcome, score: outcome === 'reject' ? 1 : outcome === 'hold' ? 0.5 : 0 };
  });
}

const f2 = (x: number) => (Number.isNaN(x) ? '  -  ' : x.toFixed(3));

function printHeader() {
  console.log(
    `${'set'.padEnd(34)} ${'rows'.padStart(6)} ${'bad'.padStart(5)} | ${'caught'.padStart(6)} ${'auto-rej'.padStart(8)} ${'f.hold'.padStart(6)} ${'f.rej'.padStart(6)} ${'AUC'.padStart(6)} | baseline: ${'caught'.padStart(6)} ${'f.hold'.padStart(6)} ${'f.rej'.padStart(6)} ${'AUC'.padStart(6)}`,
  );
}

function printRow(name: string, p: Metrics, b: Metrics) {
  console.log(
    `${name.padEnd(34)} ${String(p.n).padStart(6)} ${String(p.bad).padStart(5)} | ${f2(p.caught).padStart(6)} ${f2(p.rejected).padStart(8)} ${f2(p.falseHold).padStart(6)} ${f2(p.falseReject).padStart(6)} ${f2(p.auc).padStart(6)} |           ${f2(b.caught).padStart(6)} ${f2(b.falseHold).padStart(6)} ${f2(b.falseReject).padStart(6)} ${f2(b.auc).padStart(6)}`,
  );
}

async function evaluateSet(name: string, rows: Labelled[]): Promise<{ p: Result[]; m: Metrics }> {
  const p = await runParley(rows);
  const m = measure(rows, p);
  printRow(name, m, measure(rows, runBaseline(rows)));
  return { p, m };
}

function readJsonl(file: string): Labelled[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Labelled)
    .filter((r) => r.label === 'spam' || r.label === 'toxic' || r.label === 'ok');
}

/** Identity-swap fairness sentences: harmless templates × identity terms, generated here. */
export const IDENTITY_SWAP_TERMS = [
  'gay',
  'lesbian',
  'muslim',
  'black',
  'white',
  'jewish',
  'christian',
  'trans',
  'immigrant',
  'asian',
  'hispanic',
  'disabled',
  'women',
  'deaf',
];
const TEMPLATES = [
  'I am a {} person.',
  'My {} neighbour helped me carry the groceries.',
  'As a {} reader I found this article thoughtful.',
  'The {} community in our town organised the food drive.',
  'Being {} is part of who I am.',
  'I have {} friends from university.',
  'My {} colleague wrote a great letter to the editor.',
  'The {} family next door invited us for dinner.',
  'Our mayor met {} residents to hear their concerns.',
  'I grew up in a {} household and I am proud of it.',
  'There are {} people on the school board now.',
  'We welcomed a {} student into our home this year.',
];

export function identitySwapSet(): Labelled[] {
  return TEMPLATES.flatMap((t) =>
    IDENTITY_SWAP_TERMS.map((term) => ({ text: t.replace('{}', term), label: 'ok' as const, term })),
  );
}

function pick(rows: Row[], split: 'test' | 'dev'): Labelled[] {
  return rows.filter((r) => r.split === split).map((r) => ({ text: r.text, label: r.label }));
}

async function builtin(split: 'test' | 'dev') {
  if (!dataAvailable()) {
    console.error(
      `eval --builtin: ${DATA_DIR} is absent. The labelled sets live beside the repo (../shared/moderation-data), never in it.`,
    );
    process.exit(2);
  }
  const d = loadDatasets();
  const measuringOnly = (rows: Row[]) =>
    split === 'test' ? rows.map((r) => ({ text: r.text, label: r.label })) : [];
  const sets: Array<[string, Labelled[], string]> = [
    [`youtube-spam ${split}`, pick(d.youtube, split), 'youtube'],
    ['youtube-spam-2014-pilot', measuringOnly(d.youtubePilot), 'youtube'],
    ['c3 news (tox>=2 vs ==1.0)', measuringOnly(d.c3), 'news'],
    [`civil-comments ${split}`, [...pick(d.civil, split), ...pick(d.toxicSpans, split)], 'news'],
    [`davidson ${split}`, pick(d.davidson, split), 'tweets'],
    ['olid', measuringOnly(d.olid), 'tweets'],
  ];
  console.log(
    `Parley default policy vs anchors' default (banned words reject, any link holds), ${split} split`,
  );
  printHeader();
  const harmless: Record<string, { n: number; held: number }> = {};
  for (const [name, rows, kind] of sets) {
    if (!rows.length) continue;
    const { p } = await evaluateSet(name, rows);
    const h = harmless[kind] ?? { n: 0, held: 0 };
    harmless[kind] = h;
    rows.forEach((r, i) => {
      if (r.label !== 'ok') return;
      h.n++;
      if (p[i]!.outcome !== 'publish') h.held++;
    });
  }
  const fair = identitySwapSet();
  const { p } = await evaluateSet('identity-swap (all harmless)', fair);
  console.log('\nFalse hold on harmless comments by kind (target <= 0.10 each):');
  for (const [kind, h] of Object.entries(harmless)) {
    console.log(`  ${kind.padEnd(8)} ${f2(h.held / h.n)}  (${h.held}/${h.n})`);
  }
  const avg = p.filter((r) => r.outcome !== 'publish').length / fair.length;
  console.log(
    `\nIdentity-swap false hold: ${f2(avg)} overall (target <= 0.05; no term above ${f2(2 * avg)})`,
  );
  const line = IDENTITY_SWAP_TERMS.map((term) => {
    const idx = fair.map((r, i) => (r.term === term ? i : -1)).filter((i) => i >= 0);
    const held = idx.filter((i) => p[i]!.outcome !== 'publish').length;
    return `${term} ${f2(held / idx.length)}`;
  });
  console.log(`  ${line.join(', ')}`);
}

/** Suggests thresholds from the dev split only: the lowest hold threshold whose false holds stay under budget per kind. */
async function tune() {
  const d = loadDatasets();
  const off: Policy = {
    ...defaultPolicy,
    thresholds: { spam: { hold: 2, reject: 2 }, toxicity: { hold: 2, reject: 2 } },
  };
  const kinds: Array<[string, Row[]]> = [
    ['youtube', d.youtube],
    ['news', [...d.civil, ...d.toxicSpans]],
    ['tweets', d.davidson],
  ];
  for (const [kind, all] of kinds) {
    const rows = pick(all, 'dev');
    const s: number[] = [];
    const t: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      if (rows[i]!.label !== 'ok') continue;
      const dec = await moderate({ text: rows[i]!.text }, i, off);
      s.push(dec.scores.spam ?? 0);
      t.push(dec.scores.toxicity ?? 0);
    }
    console.log(
      `${kind.padEnd(8)} ok=${s.length} spam hold@5%=${f2(thresholdForRate(s, 0.05))} reject@0.5%=${f2(thresholdForRate(s, 0.005))} | toxicity hold@5%=${f2(thresholdForRate(t, 0.05))} hold@8%=${f2(thresholdForRate(t, 0.08))} reject@0.5%=${f2(thresholdForRate(t, 0.005))}`,
    );
  }
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes('--builtin')) return builtin('test');
  if (args.includes('--dev')) return builtin('dev');
  if (args.includes('--tune')) return tune();
  if (!args.length) {
    console.error('usage: npm run eval -- FILE.jsonl ...  |  --builtin  |  --dev  |  --tune');
    process.exit(2);
  }
  printHeader();
  for (const file of args) await evaluateSet(file, readJsonl(file));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
