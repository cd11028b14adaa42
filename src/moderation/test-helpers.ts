/** Literal comments and contexts for the rule tests. */
import { defaultPolicy, type PolicyInput, policySchema } from './policy';
import type { CommentInput, ModerationContext } from './types';

export function comment(body: string, extra: Partial<CommentInput> = {}): CommentInput {
  return {
    id: 'c1',
    body,
    authorName: 'Ann',
    signals: {},
    createdAt: new Date('2024-05-01T10:00:00Z'),
    ...extra,
  };
}

export function ctx(policy: PolicyInput = {}, extra: Partial<ModerationContext> = {}): ModerationContext {
  return {
    siteId: 's1',
    policy: Object.keys(policy).length ? policySchema.parse(policy) : defaultPolicy,
    policyVersion: 3,
    article: { id: 'a1', closed: false },
    now: new Date('2024-05-01T10:00:05Z'),
    ...extra,
  };
}
