/** Moderator workspace API shapes; the OpenAPI document is generated from these. */
import { z } from '@hono/zod-openapi';
import { QUEUES } from '../../repositories/queue';
import { REJECT_REASONS } from '../../services/moderation-actions';
import { articleIdSchema, CommentParams, cleanText, SiteParam } from '../comments/comments.schemas';

export { CommentParams, SiteParam };

export const QueueParams = SiteParam.extend({
  queue: z.enum(QUEUES).openapi({ param: { name: 'queue', in: 'path' } }),
});
export const BanParams = SiteParam.extend({
  banId: z.uuid().openapi({ param: { name: 'banId', in: 'path' } }),
});

// Filters are query values compared in SQL: text Postgres cannot hold (a NUL) is refused with 422.
const filterShape = {
  article: articleIdSchema.optional().openapi({ description: "The publisher's article id" }),
  reason: z
    .string()
    .regex(/^[a-z0-9_.:-]{1,64}$/)
    .optional()
    .openapi({ description: 'A reason code any decision recorded (e.g. banned_word, toxicity, spam)' }),
  author: cleanText(200).min(1).optional().openapi({ description: 'Exact author name or author key' }),
  minAgeMinutes: z.coerce.number().int().min(0).max(525_600).optional(),
  maxAgeMinutes: z.coerce.number().int().min(0).max(525_600).optional(),
};

/** An age window that is empty by construction is a mistake to report, not an empty queue. */
const ageWindow = (f: { minAgeMinutes?: number; maxAgeMinutes?: number }) =>
  f.minAgeMinutes === undefined || f.maxAgeMinutes === undefined || f.minAgeMinutes <= f.maxAgeMinutes;
const ageWindowIssue = { message: 'must not be more than maxAgeMinutes', path: ['minAgeMinutes'] };

export const QueueQuery = z
  .object({
    ...filterShape,
    cursor: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
  })
  .refine(ageWindow, ageWindowIssue);

export const NextBody = z
  .object({
    ...filterShape,
    /** Items to pass over (the one the moderator just skipped). */
    skip: z.array(z.uuid()).max(100).optional(),
  })
  .refine(ageWindow, ageWindowIssue);

const Reason = z.object({
  rule: z.string(),
  category: z.string(),
  code: z.string(),
  message: z.string(),
  score: z.number().nullable(),
  shadow: z.boolean(),
  spans: z.array(z.object({ start: z.number().int(), end: z.number().int() })),
});

/** What every decision in a history shows, whichever list it is in. */
const decisionFields = {
  actorId: z.string().nullable(),
  actorName: z
    .string()
    .nullable()
    .openapi({ description: "The moderator's account name, or the API token's name" }),
  action: z.string(),
  fromStatus: z.string(),
  toStatus: z.string(),
  reasonCode: z.string().nullable(),
};

export const QueueItemSchema = z
  .object({
    id: z.string(),
    status: z.string(),
    body: z.string(),
    authorName: z.string(),
    authorKey: z.string().nullable(),
    hasEmail: z.boolean(),
    hasIp: z.boolean(),
    createdAt: z.string(),
    decidedAt: z.string().nullable(),
    revision: z.number().int().openapi({
      description: 'How many times its author edited it (0: never); send it back as expectedRevision',
    }),
    editedAt: z.string().nullable().openapi({ description: 'When its author last edited it' }),
    revisions: z
      .array(
        z.object({
          revision: z.number().int(),
          body: z.string().openapi({ description: 'Raw text as written; render it as text, never as HTML' }),
          createdAt: z.string().openapi({ description: 'When this text was written' }),
          replacedAt: z.string().openapi({ description: 'When an edit replaced it' }),
        }),
      )
      .openapi({ description: 'The texts its author replaced by editing, oldest first' }),
    reportCount: z.number().int(),
    reportedAt: z.string().nullable(),
    claim: z.object({ by: z.string(), expiresAt: z.string(), mine: z.boolean() }).nullable(),
    article: z.object({
      id: z.string(),
      title: z.string().nullable(),
      url: z.string().nullable(),
      closed: z.boolean(),
    }),
    parent: z
      .object({ id: z.string(), authorName: z.string(), body: z.string(), status: z.string() })
      .nullable(),
    history: z.object({
      published: z.number().int(),
      held: z.number().int(),
      rejected: z.number().int(),
      pending: z.number().int(),
      deleted: z.number().int(),
      recent: z.array(
        z.object({ id: z.string(), status: z.string(), body: z.string(), createdAt: z.string() }),
      ),
    }),
    decisions: z.array(
      z.object({
        actorType: z.string().openapi({ description: 'system, moderator or author' }),
        ...decisionFields,
        reasons: z.array(Reason),
        revision: z.number().int().openapi({
          description: "The comment's revision it was made on: reasons' spans index that text",
        }),
        createdAt: z.string(),
      }),
    ),
    reports: z.array(z.object({ reason: z.string(), note: z.string().nullable(), createdAt: z.string() })),
  })
  .openapi('QueueItem');

export const CountsSchema = z
  .object(
    Object.fromEntries(QUEUES.map((q) => [q, z.number().int()])) as Record<
      (typeof QUEUES)[number],
      z.ZodNumber
    >,
  )
  .openapi('QueueCounts');

export const QueuePageSchema = z
  .object({ items: z.array(QueueItemSchema), nextCursor: z.string().nullable(), counts: CountsSchema })
  .openapi('QueuePage');

export const ClaimSchema = z.object({ id: z.string(), claimedUntil: z.string() });

const StatusEnum = z.enum(['pending', 'published', 'held', 'rejected', 'deleted']);

const revisionNumber = z.number().int().min(0).max(1_000_000);

export const ApproveBody = z.object({
  expectedStatus: StatusEnum.optional().openapi({
    description:
      'Re-decide a comment that is no longer open (e.g. approve a rejected one); the status you saw',
  }),
  expectedRevision: revisionNumber.optional().openapi({
    description:
      "The comment's `revision` you saw: if its author has edited it since, the decision is refused with 409 comment_edited instead of deciding a text you have not read. Required to approve a comment whose revision is above 0 (its author edited it): without it the approval is refused the same way. The workspace always sends it.",
  }),
});
export const RejectBody = ApproveBody.extend({ reasonCode: z.enum(REJECT_REASONS) });
export const DecidedSchema = z.object({ id: z.string(), status: StatusEnum }).openapi('Decided');

export const BulkBody = z.object({
  action: z.enum(['approve', 'reject']),
  ids: z.array(z.uuid()).min(1).max(200),
  reasonCode: z.enum(REJECT_REASONS).optional(),
  expectedRevisions: z
    .record(z.uuid(), revisionNumber)
    .refine((r) => Object.keys(r).length <= 200, 'At most 200 entries')
    .optional()
    .openapi({
      description:
        'Comment id → the revision you saw; an item its author edited since fails with code comment_edited, and so does approving an edited comment (revision above 0) left out of this map',
    }),
});
export const BulkResultSchema = z
  .object({
    results: z.array(
      z.object({
        id: z.string(),
        ok: z.boolean(),
        status: StatusEnum.optional(),
        code: z.string().optional(),
        message: z.string().optional(),
      }),
    ),
  })
  .openapi('BulkResult');

export const BanBody = z.object({
  commentId: z.uuid(),
  by: z.enum(['email', 'ip']),
  durationHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 3650)
    .nullable()
    .optional()
    .openapi({ description: 'Omit or null: for good' }),
  reason: cleanText(500).optional(),
  rejectPending: z.boolean().default(false),
});
export const BanSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['email', 'ip']),
    reason: z.string().nullable(),
    sourceCommentId: z.string().nullable(),
    createdBy: z.string(),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    active: z.boolean(),
  })
  .openapi('Ban');
export const BanCreatedSchema = z.object({
  id: z.string(),
  kind: z.enum(['email', 'ip']),
  expiresAt: z.string().nullable(),
  rejected: z.array(z.string()),
});

export const HistoryQuery = z.object({
  actor: cleanText(200).optional(),
  cursor: z
    .string()
    // 18 digits always fit the bigint it is compared with; 19 may not, and failed the query.
    .regex(/^\d{1,18}$/, 'Not a cursor from this list (pass back nextCursor as given)')
    .optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export const HistorySchema = z
  .object({
    entries: z.array(
      z.object({
        id: z.string(),
        commentId: z.string(),
        actorType: z.enum(['moderator', 'author']).openapi({
          description:
            "author: the comment's author deleted (action withdraw) or edited (action edit) it themselves (actorId is then null)",
        }),
        ...decisionFields,
        createdAt: z.string(),
        authorName: z.string(),
        excerpt: z.string(),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .openapi('History');

export const SignInBody = z.object({
  email: z.email().max(320),
  password: z.string().min(1).max(1000),
});
export const SessionSchema = z
  .object({
    user: z.object({ id: z.string(), email: z.string(), name: z.string() }).nullable(),
    csrfToken: z.string().nullable(),
    sites: z.array(z.object({ id: z.string(), name: z.string(), role: z.enum(['admin', 'moderator']) })),
  })
  .openapi('Session');
