/**
 * Posting velocity from counts the worker gathered (Redis counters over its window): many comments
 * from one IP hash, one author or onto one article in a short time look like flooding.
 */
import type { Rule, Verdict } from '../types';

export const velocity: Rule = {
  id: 'velocity',
  run: (_c, ctx) => {
    const h = ctx.history;
    if (!h) return null;
    const p = ctx.policy.velocity;
    const out: Verdict[] = [];
    const check = (count: number | undefined, limit: number, code: string, what: string) => {
      if (count === undefined || count <= limit) return;
      out.push({
        rule: 'velocity',
        category: 'velocity',
        score: Math.min(1, 0.5 + (count - limit) / (2 * limit)),
        code,
        message: `${count} recent comments ${what} (the limit is ${limit}).`,
        action: 'hold',
      });
    };
    check(h.recentByIp, p.perIp, 'ip_velocity', 'from the same network address');
    check(h.recentByAuthor, p.perAuthor, 'author_velocity', 'from the same author');
    check(h.recentByArticle, p.perArticle, 'article_velocity', 'on this article');
    return out;
  },
};
