/** Route definitions for the public comment API: every status and schema is declared here. */
import { createRoute } from '@hono/zod-openapi';
import { problem } from '../openapi';
import {
  AcceptedSchema,
  ArticleParams,
  CommentParams,
  CommentStatusSchema,
  EditedSchema,
  EditParams,
  editCommentSchema,
  FormTokenSchema,
  SiteParam,
  submitCommentSchema,
  ThreadQuery,
  ThreadSchema,
  WithdrawBody,
  WithdrawnSchema,
  WithdrawParams,
} from './comments.schemas';

export function commentRoutes(maxChars: number) {
  const submit = createRoute({
    method: 'post',
    path: '/api/v1/sites/{siteId}/articles/{articleId}/comments',
    tags: ['comments'],
    summary: 'Submit a comment (or reply) for moderation',
    description:
      'Creates the article on first sight. Answers 202 once the comment is durably stored; moderation happens asynchronously. Send an `Idempotency-Key` header (8 to 200 visible ASCII characters, new for each comment) to make retries safe: the same key with the same comment gets the first answer again, and the same key with a different comment (text, article, parent, name or email) is refused with 422 `idempotency_key_reused`.',
    request: {
      params: ArticleParams,
      body: { required: true, content: { 'application/json': { schema: submitCommentSchema(maxChars) } } },
    },
    responses: {
      202: {
        description: 'Accepted for moderation',
        content: { 'application/json': { schema: AcceptedSchema } },
      },
      400: problem('Malformed JSON or invalid UTF-8'),
      403: problem('Origin not allowed, or article closed'),
      404: problem('Unknown site'),
      413: problem('Body too large'),
      415: problem('Not JSON'),
      422: problem(
        'Invalid fields, the parent is not a published comment of this article, or the Idempotency-Key was used for a different comment',
      ),
      429: {
        ...problem('Too many comments; see Retry-After'),
        headers: {
          'Retry-After': {
            description: 'Seconds until a submission may succeed',
            schema: { type: 'integer' },
          },
        },
      },
      503: problem('Temporarily unavailable; nothing was stored'),
    },
  });

  const thread = createRoute({
    method: 'get',
    path: '/api/v1/sites/{siteId}/articles/{articleId}/comments',
    tags: ['comments'],
    summary: "An article's published thread, replies nested",
    request: { params: ArticleParams, query: ThreadQuery },
    responses: {
      200: {
        description: 'The thread page',
        content: { 'application/json': { schema: ThreadSchema } },
        headers: {
          ETag: {
            description: 'Send it back as If-None-Match to get 304 while the page is unchanged',
            schema: { type: 'string' },
          },
          'Cache-Control': { description: '`public, max-age=1`', schema: { type: 'string' } },
          'Content-Encoding': {
            description:
              '`br` or `gzip` when the page is 1 KB or more and Accept-Encoding allows it (Vary: Origin, Accept-Encoding)',
            schema: { type: 'string' },
          },
        },
      },
      304: { description: 'Not modified (If-None-Match matched the ETag)' },
      404: problem('Unknown site'),
      422: problem('Invalid query'),
    },
  });

  const status = createRoute({
    method: 'get',
    path: '/api/v1/sites/{siteId}/comments/{commentId}',
    tags: ['comments'],
    summary: "One comment's public status (for its author's 'awaiting moderation' note)",
    request: { params: CommentParams },
    responses: {
      200: { description: 'Status', content: { 'application/json': { schema: CommentStatusSchema } } },
      404: problem('Unknown site or comment'),
      422: problem('The comment id is not a UUID'),
    },
  });

  const formToken = createRoute({
    method: 'get',
    path: '/api/v1/sites/{siteId}/form-token',
    tags: ['comments'],
    summary: 'A signed token proving when the comment form was shown (bot defence)',
    request: { params: SiteParam },
    responses: {
      200: { description: 'Token', content: { 'application/json': { schema: FormTokenSchema } } },
      404: problem('Unknown site'),
    },
  });

  const withdraw = createRoute({
    method: 'post',
    path: '/api/v1/sites/{siteId}/comments/{commentId}/withdraw',
    tags: ['comments'],
    summary: 'Delete your own comment (its author, proven by the authorToken of its submission)',
    description:
      "Works whatever the comment's status: pending (the moderation worker then finds nothing to decide), held (it leaves the queue; a moderator deciding it gets 409 already_decided), published (it leaves the thread and its count within a second) or rejected. The text is emptied at once, the audit records actor `author`, and a `comment.deleted` webhook with actor `author` is sent. A deleted comment with published replies stays in the thread as a tombstone (`deleted: true`) so the replies keep their place. Repeating the request answers 200 again. A wrong or missing token, another comment's token, an unknown id or another site's comment are all answered 404, so the answer never tells whether a comment exists. JSON only, from the site's allowed origins, like every public write.",
    request: {
      params: WithdrawParams,
      body: { required: true, content: { 'application/json': { schema: WithdrawBody } } },
    },
    responses: {
      200: {
        description: 'Deleted (now or by an earlier request)',
        content: { 'application/json': { schema: WithdrawnSchema } },
      },
      400: problem('Malformed JSON'),
      403: problem('Origin not allowed'),
      404: problem('Unknown site or comment, or the token does not prove authorship of it'),
      415: problem('Not JSON'),
      422: problem('The body is not of the documented shape (authorToken not a string, or too long)'),
    },
  });

  const edit = createRoute({
    method: 'post',
    path: '/api/v1/sites/{siteId}/comments/{commentId}/edit',
    tags: ['comments'],
    summary: 'Edit your own comment (its author, proven by the authorToken of its submission)',
    description:
      "Replaces the text of a comment that is pending, held or published, within the site's edit window (`editWindowSeconds` of its policy, from when it was posted; 0 turns editing off) and while nobody's reply to it is left (a deleted reply does not count). The new text is checked as a submission's body is and moderated again from scratch: the comment is pending until the pipeline (or a moderator) decides it, a published one leaves the thread and its count meanwhile, and the text it replaced is kept for moderators. The audit records actor `author`, action `edit`, and a `comment.edited` webhook is sent. The same text as now answers 200 with `changed: false` and changes nothing. Refusals: 409 `not_editable` (rejected or deleted), `edit_window_closed` (window passed, or editing off), `has_replies`. A wrong or missing token, another comment's token, an unknown id or another site's comment are all answered 404, as for withdraw. An edit counts against the reader's per-address submission limit (429). JSON only, from the site's allowed origins.",
    request: {
      params: EditParams,
      body: { required: true, content: { 'application/json': { schema: editCommentSchema(maxChars) } } },
    },
    responses: {
      200: {
        description: 'Edited and sent back to moderation (or unchanged: the same text)',
        content: { 'application/json': { schema: EditedSchema } },
      },
      400: problem('Malformed JSON'),
      403: problem('Origin not allowed'),
      404: problem('Unknown site or comment, or the token does not prove authorship of it'),
      409: problem('Not editable: rejected or deleted, past the edit window, or replied to'),
      413: problem('Body too large'),
      415: problem('Not JSON'),
      422: problem('Invalid fields (the body as for a submission; authorToken not a string)'),
      429: {
        ...problem('Too many submissions and edits from this address; see Retry-After'),
        headers: {
          'Retry-After': {
            description: 'Seconds until an edit may succeed',
            schema: { type: 'integer' },
          },
        },
      },
    },
  });

  return { submit, thread, status, formToken, withdraw, edit };
}
