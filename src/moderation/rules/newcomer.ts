/**
 * New-commenter policy (Coral's premoderation of newcomers): hold an author's comments until a
 * moderator has approved N of theirs. With N = 1 that is "hold until one is approved".
 */
import type { Rule } from '../types';

export const newCommenter: Rule = {
  id: 'new-commenter',
  run: (_c, ctx) => {
    const n = ctx.policy.newCommenterHold;
    const approved = ctx.history?.authorApproved;
    // Unknown history is not "new": the worker must load the count for this rule to act.
    if (n <= 0 || approved === undefined || approved >= n) return null;
    return {
      rule: 'new-commenter',
      category: 'newcomer',
      score: 1,
      code: 'new_commenter',
      message: `This author has ${approved} approved comment${approved === 1 ? '' : 's'} (fewer than ${n}), so a moderator reviews it.`,
      action: 'hold',
    };
  },
};
