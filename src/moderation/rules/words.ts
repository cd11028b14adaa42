/**
 * Per-site banned (reject) and suspect (hold) words. Matching goes through `obscenity`, which
 * undoes l33t, confusable Unicode letters and stretched letters ("1d10t", "iiidiot"); spaced-out
 * words ("i d i o t") are caught by also matching a copy of the body with those gaps closed.
 * Spans are UTF-16 offsets into the original body (end exclusive).
 */
import {
  DataSet,
  englishDataset,
  englishRecommendedTransformers,
  parseRawPattern,
  RegExpMatcher,
} from 'obscenity';
import type { Rule, Span } from '../types';

/** Escapes obscenity's pattern syntax ([ ] ? | \) in a site's word. */
function escapePattern(word: string): string {
  return word.replace(/[[\]?|\\]/g, (c) => `\\${c}`);
}

export interface WordMatcher {
  find(body: string): Span[];
}

/** Builds a matcher for a word list; plurals in -s match too, allowed terms never do. */
export function buildWordMatcher(words: readonly string[], allowed: readonly string[] = []): WordMatcher {
  const list = [...new Set(words.map((w) => w.trim().toLowerCase()).filter(Boolean))];
  if (!list.length) return { find: () => [] };
  const ds = new DataSet<{ word: string }>();
  for (const w of list) {
    ds.addPhrase((p) => {
      let phrase = p.setMetadata({ word: w }).addPattern(parseRawPattern(`|${escapePattern(w)}|`));
      if (!w.endsWith('s')) phrase = phrase.addPattern(parseRawPattern(`|${escapePattern(w)}s|`));
      for (const a of allowed) if (a.trim()) phrase = phrase.addWhitelistedTerm(a.trim().toLowerCase());
      return phrase;
    });
  }
  const matcher = new RegExpMatcher({ ...ds.build(), ...englishRecommendedTransformers });
  return { find: (body) => matchWithGapsClosed(body, (s) => matcher.getAllMatches(s, true)) };
}

/** The obscenity English list, for the anchors' baseline and the optional built-in list. */
let english: WordMatcher | undefined;
export function englishProfanity(): WordMatcher {
  if (!english) {
    const m = new RegExpMatcher({ ...englishDataset.build(), ...englishRecommendedTransformers });
    english = { find: (body) => matchWithGapsClosed(body, (s) => m.getAllMatches(s, true)) };
  }
  return english;
}

type RawMatch = { startIndex: number; endIndex: number };

// Three or more single letters separated by one space, dot, dash, underscore or star: "i d i o t".
const SPACED_RE = /(?<![\p{L}\p{N}])\p{L}(?:[ .\-_*]\p{L}){2,}(?![\p{L}\p{N}])/gu;

export function matchWithGapsClosed(body: string, match: (s: string) => RawMatch[]): Span[] {
  const spans: Span[] = match(body).map((m) => ({ start: m.startIndex, end: m.endIndex + 1 }));
  if (SPACED_RE.test(body)) {
    SPACED_RE.lastIndex = 0;
    // Close the gaps and keep, for each kept unit, its offset in the original body.
    let compact = '';
    const origin: number[] = [];
    let last = 0;
    const keep = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        compact += body[i];
        origin.push(i);
      }
    };
    for (const m of body.matchAll(SPACED_RE)) {
      keep(last, m.index);
      for (let i = m.index; i < m.index + m[0].length; i++) {
        if (!/[ .\-_*]/.test(body[i]!)) keep(i, i + 1);
      }
      last = m.index + m[0].length;
    }
    keep(last, body.length);
    for (const m of match(compact)) {
      const start = origin[m.startIndex]!;
      const end = origin[m.endIndex]! + 1;
      if (!spans.some((s) => s.start <= start && s.end >= end)) spans.push({ start, end });
    }
    spans.sort((a, b) => a.start - b.start);
  }
  return spans;
}

// Matchers are rebuilt only when a site's lists change: keyed by the lists themselves.
const cache = new Map<string, WordMatcher>();
function cachedMatcher(words: readonly string[], allowed: readonly string[]): WordMatcher {
  const key = JSON.stringify([words, allowed]);
  let m = cache.get(key);
  if (!m) {
    if (cache.size > 500) cache.clear();
    m = buildWordMatcher(words, allowed);
    cache.set(key, m);
  }
  return m;
}

export const siteWords: Rule = {
  id: 'site-words',
  run: (c, ctx) => {
    const { banned, suspect, allowed, builtin } = ctx.policy.words;
    const bannedSpans = cachedMatcher(banned, allowed).find(c.body);
    const builtinSpans = builtin === 'off' ? [] : englishProfanity().find(c.body);
    if (bannedSpans.length || (builtin === 'banned' && builtinSpans.length)) {
      return {
        rule: 'site-words',
        category: 'words',
        score: 1,
        code: 'banned_word',
        message: 'The comment uses a word this site bans.',
        action: 'reject',
        spans: bannedSpans.length ? bannedSpans : builtinSpans,
      };
    }
    const suspectSpans = [...cachedMatcher(suspect, allowed).find(c.body), ...builtinSpans];
    if (suspectSpans.length) {
      return {
        rule: 'site-words',
        category: 'words',
        score: 0.7,
        code: 'suspect_word',
        message: 'The comment uses a word this site reviews by hand.',
        action: 'hold',
        spans: suspectSpans.sort((a, b) => a.start - b.start),
      };
    }
    return null;
  },
};
