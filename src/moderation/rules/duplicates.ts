/**
 * Copy-paste spam across authors: the worker finds near-duplicates of this body posted on the site
 * within its window (see simhash.ts) and passes their ids; this rule turns them into a verdict.
 */
import type { Rule } from '../types';

export const duplicates: Rule = {
  id: 'duplicates',
  run: (_c, ctx) => {
    const ids = ctx.history?.duplicates;
    const p = ctx.policy.duplicates;
    if (!ids || ids.length < p.minCopies) return null;
    const reject = ids.length >= p.rejectCopies;
    return {
      rule: 'duplicates',
      category: 'spam',
      score: reject ? 1 : 0.8,
      code: reject ? 'duplicate_run' : 'duplicate',
      message: `The same or nearly the same text was posted ${ids.length} time${ids.length === 1 ? '' : 's'} on this site recently (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', ...' : ''}).`,
      action: reject ? 'reject' : 'hold',
    };
  },
};
