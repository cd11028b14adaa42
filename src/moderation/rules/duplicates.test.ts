import { describe, expect, it } from 'vitest';
import { comment, ctx } from '../test-helpers';
import { duplicates } from './duplicates';

const run = (ids: string[] | undefined, policy = {}) =>
  duplicates.run(
    comment('Buy cheap watches at example dot com'),
    ctx(policy, { history: { duplicates: ids } }),
  );

describe('duplicates', () => {
  it('says nothing without copies, or when the lookup did not run', () => {
    expect(run([])).toBeNull();
    expect(run(undefined)).toBeNull();
  });
  it('holds from minCopies copies and rejects from rejectCopies, both counted inclusively', () => {
    const policy = { duplicates: { minCopies: 2, rejectCopies: 4 } };
    expect(run(['a'], policy)).toBeNull();
    expect(run(['a', 'b'], policy)).toMatchObject({ code: 'duplicate', action: 'hold', score: 0.8 });
    expect(run(['a', 'b', 'c'], policy)).toMatchObject({ code: 'duplicate', action: 'hold' });
    expect(run(['a', 'b', 'c', 'd'], policy)).toMatchObject({
      code: 'duplicate_run',
      action: 'reject',
      score: 1,
    });
  });
  it('names the first three copies for the moderator, and how many there were', () => {
    const v = run(['c1', 'c2', 'c3', 'c4'], { duplicates: { minCopies: 1, rejectCopies: 10 } });
    expect(v).toMatchObject({ message: expect.stringContaining('4 times') });
    expect((v as { message: string }).message).toContain('(c1, c2, c3, ...)');
  });
});
