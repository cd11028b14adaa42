import { describe, expect, it } from 'vitest';
import { comment, ctx } from '../test-helpers';
import { newCommenter } from './newcomer';

describe('new-commenter', () => {
  it('holds an author with fewer approved comments than the policy asks', () => {
    expect(
      newCommenter.run(comment('hi'), ctx({ newCommenterHold: 1 }, { history: { authorApproved: 0 } })),
    ).toMatchObject({ code: 'new_commenter', action: 'hold' });
  });
  it('lets an author through once a moderator approved enough', () => {
    expect(
      newCommenter.run(comment('hi'), ctx({ newCommenterHold: 2 }, { history: { authorApproved: 2 } })),
    ).toBeNull();
  });
  it('does nothing when off or when the history is unknown', () => {
    expect(newCommenter.run(comment('hi'), ctx({}, { history: { authorApproved: 0 } }))).toBeNull();
    expect(newCommenter.run(comment('hi'), ctx({ newCommenterHold: 2 }))).toBeNull();
  });
});
