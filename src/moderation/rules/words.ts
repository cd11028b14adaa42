/** Per-site banned (reject) and suspect (hold) words, matched on word boundaries. */
import type { Rule, Span } from '../types';

function escapeRegExp(s: string) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function findWords(body: string, words: string[], allowed: string[] = []): Span[] {
  const list = words.map((w) => w.trim()).filter(Boolean);
  if (!list.length) return [];
  const re = new RegExp(
    `(?<![\\p{L}\\p{N}])(?:${list.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}])`,
    'giu',
  );
  const allow = new Set(allowed.map((a) => a.toLowerCase()));
  const spans: Span[] = [];
  for (const m of body.matchAll(re)) {
    if (!allow.has(m[0].toLowerCase())) spans.push({ start: m.index, end: m.index + m[0].length });
  }
  return spans;
}

export const siteWords: Rule = {
  id: 'site-words',
  run: (c, ctx) => {
    const { banned, suspect, allowed } = ctx.policy.words;
    const bannedSpans = findWords(c.body, banned, allowed);
    if (bannedSpans.length) {
      return {
        rule: 'site-words',
        category: 'words',
        score: 1,
        code: 'banned_word',
        message: 'The comment uses a word this site bans.',
        action: 'reject',
        spans: bannedSpans,
      };
    }
    const suspectSpans = findWords(c.body, suspect, allowed);
    if (suspectSpans.length) {
      return {
        rule: 'site-words',
        category: 'words',
        score: 0.7,
        code: 'suspect_word',
        message: 'The comment uses a word this site reviews by hand.',
        action: 'hold',
        spans: suspectSpans,
      };
    }
    return null;
  },
};
