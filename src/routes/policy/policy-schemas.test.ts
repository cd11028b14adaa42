// The engine's policy module is imported first on purpose: zod 4 gives a schema its methods when it
// is made, so a policy schema made before @hono/zod-openapi extends zod has no .openapi().

import { describe, expect, it } from 'vitest';
import { policySchema } from '../../moderation/policy';

describe('policy API schema', () => {
  it('is built whichever module is imported first, and accepts what the engine accepts', async () => {
    const { PolicyBody } = await import('./policy.schemas');
    const input = { premoderate: true, floodControl: { perArticle: { points: 50, seconds: 60 } } };
    expect(PolicyBody.parse(input)).toEqual(policySchema.parse(input));
    expect(PolicyBody.safeParse({ maxChars: -1 }).success).toBe(false);
  });
});
