/** Structural guards: checks that need no model, run first (Coral's order: length, closed story). */
import type { Rule } from '../types';

export const closedArticle: Rule = {
  id: 'closed-article',
  run: (_c, ctx) =>
    ctx.article.closed
      ? {
          rule: 'closed-article',
          category: 'guard',
          score: 1,
          code: 'article_closed',
          message: 'The article was closed for comments.',
          action: 'reject',
        }
      : null,
};

export const bodyLength: Rule = {
  id: 'body-length',
  run: (c, ctx) => {
    const text = c.body.trim();
    if (!text) {
      return {
        rule: 'body-length',
        category: 'guard',
        score: 1,
        code: 'empty',
        message: 'The comment is empty.',
        action: 'reject',
      };
    }
    if (c.body.length > ctx.policy.maxChars) {
      return {
        rule: 'body-length',
        category: 'guard',
        score: 1,
        code: 'too_long',
        message: `The comment is longer than ${ctx.policy.maxChars} characters.`,
        action: 'reject',
      };
    }
    const lines = c.body.split('\n').length;
    if (lines > ctx.policy.maxLines) {
      return {
        rule: 'body-length',
        category: 'guard',
        score: 1,
        code: 'too_many_lines',
        message: `The comment has ${lines} lines (more than ${ctx.policy.maxLines}).`,
        action: 'hold',
      };
    }
    return null;
  },
};

/**
 * Keyboard mashing and padding: the same character ten or more times in a row. Alone it is only a
 * mild spam signal ("soooooo good" is enthusiasm); it holds when the runs are most of the comment.
 */
export const repeatedCharacters: Rule = {
  id: 'repeated-characters',
  run: (c) => {
    const re = /(.)\1{9,}/gsu;
    const spans = [...c.body.matchAll(re)].map((m) => ({ start: m.index, end: m.index + m[0].length }));
    if (!spans.length) return null;
    const covered = spans.reduce((n, s) => n + s.end - s.start, 0);
    const mostly = covered / Math.max(1, c.body.trim().length) >= 0.8;
    return {
      rule: 'repeated-characters',
      category: 'spam',
      score: mostly ? 0.7 : 0.3,
      code: 'repeated_characters',
      message: mostly
        ? 'The comment is mostly one character repeated many times.'
        : 'The comment repeats one character many times in a row.',
      ...(mostly ? { action: 'hold' as const } : {}),
      spans,
    };
  },
};
