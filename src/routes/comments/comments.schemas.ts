/** Public comment API shapes; the OpenAPI document is generated from these. */
import { z } from '@hono/zod-openapi';
import type { PublicComment } from '../../repositories/comments';

// Control characters other than tab and newlines, NUL (which Postgres text cannot hold), and lone
// UTF-16 surrogates (not valid Unicode) are refused rather than stored.
const BAD_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const LONE_SURROGATE = /\p{Surrogate}/u;

export const cleanText = (max: number, opts: { multiline?: boolean } = {}) =>
  z
    .string()
    .max(max, `At most ${max} characters`)
    .refine((s) => !LONE_SURROGATE.test(s), 'Contains invalid Unicode')
    .refine((s) => !BAD_CONTROL.test(s), 'Contains control characters')
    .refine((s) => opts.multiline || !/[\r\n\t]/.test(s), 'Must be a single line');

// Stored as sent: a NUL would fail the insert of the whole ingest batch, other readers' comments too.
const httpUrl = z
  .string()
  .max(2000)
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'Must not contain control characters')
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'Must be an http(s) URL');

export const SiteParam = z.object({
  siteId: z
    .string()
    .max(64)
    // No regex flags: the OpenAPI pattern is the source alone, and `/i` there matched no id at all.
    .regex(/^[A-Za-z0-9_-]+$/)
    .openapi({ param: { name: 'siteId', in: 'path' }, example: 'site_demo' }),
});

/** The publisher's own article id: any text but control characters. */
export const articleIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'Must not contain control characters');

export const ArticleParams = SiteParam.extend({
  articleId: articleIdSchema.openapi({
    param: { name: 'articleId', in: 'path' },
    description: "The publisher's own article id",
    example: 'demo-article',
  }),
});

export const CommentParams = SiteParam.extend({
  commentId: z.uuid().openapi({ param: { name: 'commentId', in: 'path' } }),
});

export function submitCommentSchema(maxChars: number) {
  return z
    .object({
      authorName: cleanText(80)
        .refine((s) => s.trim().length > 0, 'Enter your name')
        .openapi({ example: 'Ada' }),
      authorEmail: z
        .email('Enter a valid email address')
        .max(254)
        .optional()
        .openapi({ description: 'Never shown publicly; lets moderators recognise returning commenters' }),
      body: cleanText(maxChars, { multiline: true })
        .refine((s) => s.trim().length > 0, 'Write a comment')
        .openapi({ example: 'A thoughtful point about the article.' }),
      parentId: z.uuid().nullish().openapi({ description: 'The published comment this one replies to' }),
      articleUrl: httpUrl.optional(),
      articleTitle: cleanText(300).optional(),
      /** A field hidden from people; bots fill it. */
      website: z.string().max(2000).optional().openapi({ description: 'Honeypot: leave empty' }),
      formToken: z
        .string()
        .max(200)
        .optional()
        .openapi({ description: 'From GET /form-token when the form was shown' }),
    })
    .openapi('CommentSubmission');
}

export const PublicStatus = z.enum(['pending', 'published', 'rejected']).openapi({
  description: 'pending covers comments held for a moderator; rejected covers rejected and deleted',
});

export const AcceptedSchema = z
  .object({
    id: z.uuid(),
    status: PublicStatus,
    statusUrl: z.string(),
    authorToken: z.string().openapi({
      description:
        "Proof that the caller wrote this comment: keep it (the embed keeps it in the browser's localStorage) and send it to POST .../comments/{commentId}/withdraw to delete the comment, or to POST .../comments/{commentId}/edit to change its text. Parley stores nothing to check it: it is an HMAC of the comment id under the server's secret, so a replay of the same submission gets the same token.",
    }),
    editableUntil: z.string().nullable().openapi({
      description:
        "Until when its author may edit it (the site's policy.editWindowSeconds after it was posted); null when the site allows no editing",
    }),
  })
  .openapi('CommentAccepted');

export const CommentStatusSchema = z
  .object({ id: z.uuid(), status: PublicStatus, parentId: z.uuid().nullable(), createdAt: z.string() })
  .openapi('CommentStatus');

export const PublicCommentSchema: z.ZodType<PublicComment> = z
  .lazy(() =>
    z.object({
      id: z.uuid(),
      parentId: z.uuid().nullable(),
      authorName: z.string(),
      body: z.string().openapi({ description: 'Raw text as written; render it as text, never as HTML' }),
      createdAt: z.string(),
      editedAt: z.string().nullable().openapi({
        description: 'When its author last edited it (the edited text was moderated again); null if never',
      }),
      deleted: z.literal(true).optional().openapi({
        description:
          'Present only on a tombstone: a comment deleted (by its author, or erased at their request) that has published replies. It keeps its place so the replies keep theirs; authorName and body are empty. A deleted comment without published replies is not listed at all.',
      }),
      replies: z.array(PublicCommentSchema),
    }),
  )
  .openapi('PublicComment');

/**
 * The comment id of the withdraw route is any text: an id that is not a UUID is answered like an
 * unknown one (404), so every refusal of that route looks the same.
 */
export const WithdrawParams = SiteParam.extend({
  commentId: z.string().openapi({
    param: { name: 'commentId', in: 'path' },
    description: 'The id from the 202 of the submission (a UUID; anything else is answered 404)',
  }),
});

export const WithdrawBody = z
  .object({
    authorToken: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: 'The authorToken from the 202 of the submission (missing: 404)' }),
  })
  .openapi('WithdrawRequest');

export const WithdrawnSchema = z
  .object({ id: z.uuid(), status: z.literal('deleted') })
  .openapi('CommentWithdrawn');

/** The edit route refuses like the withdraw route: its comment id is any text, answered 404. */
export const EditParams = WithdrawParams;

/** The body is checked exactly as a submission's is. */
export function editCommentSchema(maxChars: number) {
  return z
    .object({
      authorToken: WithdrawBody.shape.authorToken,
      body: submitCommentSchema(maxChars).shape.body,
    })
    .openapi('CommentEditRequest');
}

export const EditedSchema = z
  .object({
    id: z.uuid(),
    status: PublicStatus.openapi({ description: 'pending after a change: the new text is moderated again' }),
    editedAt: z.string().nullable(),
    editableUntil: z.string().nullable(),
    changed: z
      .boolean()
      .openapi({ description: 'false when the text was the same as before: nothing changed' }),
  })
  .openapi('CommentEdited');

export const ThreadQuery = z.object({
  order: z.enum(['oldest', 'newest']).default('oldest'),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export const ThreadSchema = z
  .object({
    article: z.object({
      id: z.string(),
      title: z.string().nullable(),
      url: z.string().nullable(),
      closed: z.boolean(),
      commentCount: z.number().int(),
    }),
    comments: z.array(PublicCommentSchema),
    nextCursor: z.string().nullable(),
  })
  .openapi('Thread');

export const FormTokenSchema = z.object({ token: z.string(), issuedAt: z.string() }).openapi('FormToken');
