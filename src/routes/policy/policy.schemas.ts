/** Policy API shapes (admin): the current policy, its history, saving a version, the what-if replay. */
import { z } from '@hono/zod-openapi';
import { policySchema } from '../../moderation/policy';
import { SiteParam } from '../comments/comments.schemas';

export { SiteParam };

// The engine's own schema, so the API accepts exactly what the worker will run.
// Rebuilt from its shape with this module's z: zod 4 gives a schema its methods when it is made, so
// the engine's schema has no .openapi() if it was made before @hono/zod-openapi was first imported.
export const PolicyBody = z.object(policySchema.shape).openapi('ModerationPolicy', {
  description: 'A site moderation policy; omitted fields take their defaults (see docs/moderation.md).',
});

export const PolicyStateSchema = z
  .object({
    version: z.number().int(),
    policy: PolicyBody,
    createdBy: z.string().nullable(),
    createdAt: z.string().nullable(),
  })
  .openapi('PolicyVersion');

export const PolicyHistorySchema = z
  .object({ versions: z.array(PolicyStateSchema), currentVersion: z.number().int() })
  .openapi('PolicyHistory');

export const HistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50).openapi({ example: 50 }),
});

export const SavePolicySchema = z
  .object({
    policy: PolicyBody,
    /** Optimistic concurrency: refuse the save if someone else saved since this version was read. */
    expectedVersion: z.number().int().min(1).optional().openapi({
      description: 'The version this edit started from; 409 if the site has moved on since',
    }),
  })
  .strict()
  .openapi('SavePolicy');

export const WhatIfRequestSchema = z
  .object({
    policy: PolicyBody,
    days: z
      .number()
      .int()
      .min(1)
      .max(90)
      .default(14)
      .openapi({ description: 'Replay comments decided in the last N days' }),
    limit: z
      .number()
      .int()
      .min(1)
      .max(2000)
      .default(500)
      .openapi({ description: 'At most this many, newest first' }),
  })
  .strict()
  .openapi('WhatIfRequest');

const PolicyReportSchema = z.object({
  held: z.number().int(),
  rejected: z.number().int(),
  published: z.number().int(),
  agreement: z.number().openapi({ description: "Share whose outcome equals the moderators' final decision" }),
  publishAgreement: z.number().openapi({ description: 'Share where "published or not" matches' }),
});

export const WhatIfReportSchema = z
  .object({
    total: z.number().int(),
    reviewedByModerators: z.number().int().openapi({
      description: 'Comments a moderator decided; the rest count with the decision that stood',
    }),
    since: z.string(),
    currentVersion: z.number().int(),
    current: PolicyReportSchema,
    proposed: PolicyReportSchema,
    moreHeld: z.number().int().openapi({ description: 'proposed minus current' }),
    moreRejected: z.number().int(),
    morePublished: z.number().int(),
    changes: z.array(
      z.object({
        id: z.string(),
        from: z.enum(['publish', 'hold', 'reject']),
        to: z.enum(['publish', 'hold', 'reject']),
        moderators: z.enum(['publish', 'hold', 'reject']),
        snippet: z.string().openapi({ description: 'The first 160 characters of the comment' }),
      }),
    ),
    changesTruncated: z.boolean(),
  })
  .openapi('WhatIfReport');
