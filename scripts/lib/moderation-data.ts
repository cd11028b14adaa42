/**
 * Loads the labelled sets in ../shared/moderation-data (never copied into the repo), removes the
 * overlaps its README names, and splits the trainable sets deterministically by a hash of the text:
 * 20% held out for measuring (never trained or tuned on), 15% dev (thresholds), 65% train.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fnv1a, mix32 } from '../../src/moderation/features';
import { readTable } from './csv';

export const DATA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/moderation-data');

export function dataAvailable(dir = DATA_DIR): boolean {
  return existsSync(join(dir, 'README.md'));
}

export type Label = 'spam' | 'toxic' | 'ok';
export type Split = 'train' | 'dev' | 'test';
/** What kind of text a row is, so thresholds can be checked per source. */
export type Domain = 'youtube' | 'news' | 'tweets';

export interface Row {
  text: string;
  label: Label;
  source: string;
  domain: Domain;
  split: Split;
  /** Toxic character spans, where the set has them (civil-toxic-spans). */
  spans?: Array<[number, number]>;
}

/** The split depends only on the text, so the same comment lands on the same side in every set. */
export function splitOf(text: string): Split {
  const b = mix32(fnv1a(normKey(text))) % 100;
  return b < 20 ? 'test' : b < 35 ? 'dev' : 'train';
}

export function normKey(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** HTML entities as YouTube exported them (&amp; &#39; ...) and its trailing zero-width marks. */
function decodeYoutube(s: string): string {
  return s
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<a [^>]*>([^<]*)<\/a>/gi, '$1')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\ufeff/g, '')
    .trim();
}

function dedupe(rows: Row[]): Row[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = normKey(r.text);
    if (!k || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export interface Datasets {
  youtube: Row[];
  youtubePilot: Row[];
  davidson: Row[];
  olid: Row[];
  toxicSpans: Row[];
  civil: Row[];
  c3: Row[];
  /**
   * Ordinary news comments scored under 0.5 but not 0 (autolabel files' `not toxic`, and the gender
   * subset's scores under 0.2): mostly harmless, but not every rater agreed, so they are training
   * negatives only and never counted as harmless in a measurement.
   */
  civilWeak: Row[];
  /** What was read and dropped, for the train script's report. */
  notes: string[];
}

export function loadDatasets(dir = DATA_DIR): Datasets {
  const notes: string[] = [];
  const p = (...parts: string[]) => join(dir, ...parts);

  const ytFiles = ['Youtube01-Psy.csv', 'Youtube02-KatyPerry.csv', 'Youtube03-LMFAO.csv'];
  const ytIds = new Set<string>();
  const youtube = dedupe(
    ytFiles.flatMap((f) =>
      readTable(p('youtube-spam', f)).map((r) => {
        ytIds.add(r.COMMENT_ID ?? '');
        const text = decodeYoutube(r.CONTENT ?? '');
        return row(text, r.CLASS === '1' ? 'spam' : 'ok', 'youtube-spam', 'youtube');
      }),
    ),
  );
  notes.push(`youtube-spam/${ytFiles.join(', ')}: ${youtube.length} rows after dedupe`);

  const pilotFiles = [
    'Avengers_NPoHPNeU9fc.csv',
    'KatyPerry_CevxZvSJLk8.csv',
    'PewDiePie_gRyPjRrjS34.csv',
    'PlayStation4_x7QhUL8NUK4.csv',
    'Psy_9bZkp7q19f0.csv',
  ];
  const ytText = new Set(youtube.map((r) => normKey(r.text)));
  let pilotDropped = 0;
  const youtubePilot = dedupe(
    pilotFiles.flatMap((f) =>
      readTable(p('youtube-spam-2014-pilot', f)).flatMap((r) => {
        const text = decodeYoutube(r.CONTENT ?? '');
        // Shared ids (and shared texts) would measure rows the model was trained on.
        if (ytIds.has(r.COMMENT_ID ?? '') || ytText.has(normKey(text))) {
          pilotDropped++;
          return [];
        }
        return [
          { ...row(text, r.TAG === '1' ? 'spam' : 'ok', 'youtube-pilot', 'youtube'), split: 'test' as const },
        ];
      }),
    ),
  );
  notes.push(
    `youtube-spam-2014-pilot (measuring only): ${youtubePilot.length} rows, ${pilotDropped} dropped as shared with youtube-spam`,
  );

  const davidson = dedupe(
    readTable(p('davidson-hate-offensive', 'labeled_data.csv')).map((r) =>
      row(decodeYoutube(r.tweet ?? ''), r.class === '2' ? 'ok' : 'toxic', 'davidson', 'tweets'),
    ),
  );
  notes.push(`davidson-hate-offensive/labeled_data.csv: ${davidson.length} rows (class 0,1 toxic; 2 ok)`);

  const olid = dedupe(
    readTable(p('olid', 'olid-training-v1.0.tsv'), '\t').map((r) => ({
      ...row(r.tweet ?? '', r.subtask_a === 'OFF' ? 'toxic' : 'ok', 'olid', 'tweets'),
      split: 'test' as const,
    })),
  );
  notes.push(`olid (measuring only): ${olid.length} rows`);

  // Toxic spans: every comment is toxic; spans come via annotation ids.
  const annToComment = new Map<string, string>();
  const annotators = new Map<string, number>();
  for (const a of readTable(p('civil-toxic-spans', 'annotations.csv'))) {
    annToComment.set(a.annotation ?? '', a.comment_id ?? '');
    annotators.set(a.comment_id ?? '', (annotators.get(a.comment_id ?? '') ?? 0) + 1);
  }
  // Character votes per comment; a character is toxic when at least half its annotators marked it.
  const votes = new Map<string, Map<number, number>>();
  for (const s of readTable(p('civil-toxic-spans', 'spans.csv'))) {
    const id = annToComment.get(s.annotation ?? '');
    if (!id) continue;
    const v = votes.get(id) ?? new Map<number, number>();
    for (let i = Number(s.start); i < Number(s.end) && i - Number(s.start) < 5000; i++)
      v.set(i, (v.get(i) ?? 0) + 1);
    votes.set(id, v);
  }
  const spansByComment = new Map<string, Array<[number, number]>>();
  for (const [id, v] of votes) {
    const need = Math.max(1, Math.ceil((annotators.get(id) ?? 1) / 2));
    const chars = [...v]
      .filter(([, n]) => n >= need)
      .map(([i]) => i)
      .sort((a, b) => a - b);
    const list: Array<[number, number]> = [];
    for (const i of chars) {
      const last = list[list.length - 1];
      if (last && last[1] === i) last[1] = i + 1;
      else list.push([i, i + 1]);
    }
    spansByComment.set(id, list);
  }
  const toxicSpans = dedupe(
    readTable(p('civil-toxic-spans', 'comments.csv')).map((r) => ({
      ...row(r.comment_text ?? '', 'toxic', 'civil-toxic-spans', 'news'),
      spans: spansByComment.get(r.comment_id ?? '') ?? [],
    })),
  );
  notes.push(`civil-toxic-spans/comments.csv + spans.csv: ${toxicSpans.length} toxic rows`);

  const spanText = new Set(toxicSpans.map((r) => normKey(r.text)));
  const civilRaw: Row[] = [];
  const weakRaw: Row[] = [];
  const scored = (file: string, textCol: string, scoreCol: string) => {
    for (const r of readTable(p('civil-comments-sample', file))) {
      const score = Number(r[scoreCol]);
      if (Number.isNaN(score)) continue;
      // Clean means every rater said not toxic (0); the grey zone in between is left out of
      // measurement, and only its mildest part (< 0.2) is kept as weak training negatives.
      if (score >= 0.5) civilRaw.push(row(r[textCol] ?? '', 'toxic', 'civil-comments', 'news'));
      else if (score === 0) civilRaw.push(row(r[textCol] ?? '', 'ok', 'civil-comments', 'news'));
      else if (score < 0.2) weakRaw.push(row(r[textCol] ?? '', 'ok', 'civil-weak', 'news'));
    }
  };
  scored('autolabel_civil_comments.csv', 'text', 'toxicity');
  scored('gender_bias_subset.csv', 'comment', 'target');
  for (const f of ['autolabel_test.csv', 'autolabel_seed.csv']) {
    for (const r of readTable(p('civil-comments-sample', f))) {
      // "not toxic" here means a score under 0.5, not 0: kept out, like the grey zone above.
      if (r.label === 'toxic') civilRaw.push(row(r.example ?? '', 'toxic', 'civil-comments', 'news'));
      else if (r.label === 'not toxic') weakRaw.push(row(r.example ?? '', 'ok', 'civil-weak', 'news'));
    }
  }
  let overlap = 0;
  const civil = dedupe(
    civilRaw.filter((r) => {
      if (spanText.has(normKey(r.text))) {
        overlap++;
        return false;
      }
      return true;
    }),
  );
  const civilKeys = new Set(civil.map((r) => normKey(r.text)));
  const civilWeak = dedupe(
    weakRaw.filter((r) => !spanText.has(normKey(r.text)) && !civilKeys.has(normKey(r.text))),
  );
  notes.push(
    `civil-comments-sample (4 files): ${civil.length} rows (toxic >= 0.5, ok == 0), ${overlap} dropped as also in civil-toxic-spans`,
  );
  notes.push(
    `civil-comments-sample weak negatives: ${civilWeak.length} rows (autolabel "not toxic", gender subset 0 < score < 0.2), training only`,
  );

  const c3 = dedupe(
    readTable(p('c3-constructive-comments', 'C3_slim.csv')).flatMap((r) => {
      const level = Number(r.crowd_toxicity_level);
      if (level >= 2)
        return [{ ...row(r.comment_text ?? '', 'toxic', 'c3', 'news'), split: 'test' as const }];
      if (level === 1) return [{ ...row(r.comment_text ?? '', 'ok', 'c3', 'news'), split: 'test' as const }];
      return [];
    }),
  );
  notes.push(`c3 (measuring only): ${c3.length} rows (toxicity >= 2 toxic, == 1.0 ok)`);

  return { youtube, youtubePilot, davidson, olid, toxicSpans, civil, c3, civilWeak, notes };
}

function row(text: string, label: Label, source: string, domain: Domain): Row {
  return { text, label, source, domain, split: splitOf(text) };
}

/** Deterministic PRNG (mulberry32) for shuffles and sampling. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
