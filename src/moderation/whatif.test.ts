import { describe, expect, it } from 'vitest';
import { policySchema } from './policy';
import { defaultRules } from './rules/index';
import { comment, ctx } from './test-helpers';
import { type PastComment, whatIf } from './whatif';

const past: PastComment[] = [
  {
    comment: comment('Read more at http://a.example/x', { id: 'p1' }),
    context: ctx(),
    finalDecision: 'publish',
  },
  {
    comment: comment('Thanks for the careful reporting.', { id: 'p2' }),
    context: ctx(),
    finalDecision: 'publish',
  },
  { comment: comment('buy now http://spam.biz/deal', { id: 'p3' }), context: ctx(), finalDecision: 'reject' },
];

// The classifier is switched off so that the test is about the link policy alone.
const noModel = { rules: { classifier: { enabled: false } } };

describe('whatIf', () => {
  it('reports what a stricter link policy would change, against the moderators', async () => {
    const current = { policy: policySchema.parse(noModel), version: 1 };
    const proposed = { policy: policySchema.parse({ ...noModel, links: { holdAnyLink: true } }), version: 2 };
    const r = await whatIf(defaultRules, past, current, proposed);
    expect(r.total).toBe(3);
    expect(r.moreHeld).toBe(2);
    expect(r.changes.map((c) => [c.id, c.from, c.to, c.moderators])).toEqual([
      ['p1', 'publish', 'hold', 'publish'],
      ['p3', 'publish', 'hold', 'reject'],
    ]);
    expect(r.current.publishAgreement).toBeCloseTo(2 / 3);
    expect(r.proposed.publishAgreement).toBeCloseTo(2 / 3);
  });
  it('a blocked domain turns the spam into a reject and raises agreement', async () => {
    const current = { policy: policySchema.parse(noModel), version: 1 };
    const proposed = {
      policy: policySchema.parse({ ...noModel, links: { blockedDomains: ['spam.biz'] } }),
      version: 2,
    };
    const r = await whatIf(defaultRules, past, current, proposed);
    expect(r.moreRejected).toBe(1);
    expect(r.proposed.agreement).toBeGreaterThan(r.current.agreement);
  });
});
