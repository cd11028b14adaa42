/** Route definitions for the moderator workspace API: every status and schema is declared here. */
import { createRoute, z } from '@hono/zod-openapi';
import { json, problem } from '../openapi';
import * as s from './moderation.schemas';

const body = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

/** Every site-scoped moderator route answers these the same way. */
const guarded = {
  401: problem('Not signed in and no valid API token'),
  403: problem('Cookie request without the CSRF token'),
  404: problem('No such site (or not yours), or no such item on it'),
  422: problem('Invalid input'),
};
const security: Array<Record<string, string[]>> = [{ bearer: [] }, { session: [] }];
const tags = ['moderation'];
const base = '/api/v1/moderation/sites/{siteId}';

export const counts = createRoute({
  method: 'get',
  path: `${base}/queues`,
  tags,
  security,
  summary: 'How many items each queue holds',
  request: { params: s.SiteParam },
  responses: { 200: json('Counts per queue', s.CountsSchema), ...guarded },
});

export const list = createRoute({
  method: 'get',
  path: `${base}/queues/{queue}`,
  tags,
  security,
  summary: 'One page of a queue (keyset-paginated, filterable)',
  description:
    'held, pending and reported are oldest first; approved and rejected (the last 7 days) newest first. Each item carries its article, parent, the author’s recent history and every decision with its reasons and matched spans.',
  request: { params: s.QueueParams, query: s.QueueQuery },
  responses: { 200: json('A page of items', s.QueuePageSchema), ...guarded },
});

export const next = createRoute({
  method: 'post',
  path: `${base}/queues/{queue}/next`,
  tags,
  security,
  summary: 'Claim the next item of a queue for yourself',
  description:
    'Leases the oldest unclaimed item to the caller for CLAIM_LEASE_SECONDS. Concurrent callers never receive the same item. An item the caller already holds is returned first.',
  request: { params: s.QueueParams, body: body(s.NextBody) },
  responses: {
    200: json('The claimed item', z.object({ item: s.QueueItemSchema, counts: s.CountsSchema })),
    204: { description: 'Nothing left to claim' },
    409: problem('This queue has nothing to claim (approved and rejected are not work queues)'),
    ...guarded,
  },
});

export const item = createRoute({
  method: 'get',
  path: `${base}/comments/{commentId}`,
  tags,
  security,
  summary: 'One comment with its full moderation context',
  request: { params: s.CommentParams },
  responses: { 200: json('The item', s.QueueItemSchema), ...guarded },
});

export const claim = createRoute({
  method: 'post',
  path: `${base}/comments/{commentId}/claim`,
  tags,
  security,
  summary: 'Claim (or renew your claim on) one item',
  request: { params: s.CommentParams },
  responses: {
    200: json('Claimed', s.ClaimSchema),
    409: problem('claimed_by_other: another moderator holds it'),
    ...guarded,
  },
});

export const release = createRoute({
  method: 'delete',
  path: `${base}/comments/{commentId}/claim`,
  tags,
  security,
  summary: 'Give an item back to the queue',
  request: { params: s.CommentParams },
  responses: { 204: { description: 'Released (or was not yours)' }, ...guarded },
});

export const approve = createRoute({
  method: 'post',
  path: `${base}/comments/{commentId}/approve`,
  tags,
  security,
  summary: 'Approve: publish it (or, for a reported comment, keep it up and close the reports)',
  request: { params: s.CommentParams, body: body(s.ApproveBody) },
  responses: {
    200: json('Decided', s.DecidedSchema),
    409: problem(
      'already_decided, claimed_by_other, or comment_edited (its author edited it since the expectedRevision you saw)',
    ),
    ...guarded,
  },
});

export const reject = createRoute({
  method: 'post',
  path: `${base}/comments/{commentId}/reject`,
  tags,
  security,
  summary: 'Reject with a reason code',
  request: { params: s.CommentParams, body: body(s.RejectBody) },
  responses: {
    200: json('Decided', s.DecidedSchema),
    409: problem(
      'already_decided, claimed_by_other, or comment_edited (its author edited it since the expectedRevision you saw)',
    ),
    ...guarded,
  },
});

export const undo = createRoute({
  method: 'post',
  path: `${base}/comments/{commentId}/undo`,
  tags,
  security,
  summary: 'Undo your latest decision on this comment (within UNDO_WINDOW_SECONDS)',
  request: { params: s.CommentParams },
  responses: {
    200: json('Restored', s.DecidedSchema),
    ...guarded,
    403: problem(
      'Cookie request without the CSRF token, or another moderator made this decision (only they or an admin may undo it)',
    ),
    409: problem('Nothing to undo, changed since (already_decided) or too late (undo_expired)'),
  },
});

export const bulk = createRoute({
  method: 'post',
  path: `${base}/bulk`,
  tags,
  security,
  summary: 'Approve or reject a selection; each item succeeds or fails on its own',
  request: { params: s.SiteParam, body: body(s.BulkBody) },
  responses: { 200: json('Per-item results', s.BulkResultSchema), ...guarded },
});

export const listBans = createRoute({
  method: 'get',
  path: `${base}/bans`,
  tags,
  security,
  summary: 'Bans on this site',
  request: { params: s.SiteParam },
  responses: { 200: json('Bans', z.object({ bans: z.array(s.BanSchema) })), ...guarded },
});

export const createBan = createRoute({
  method: 'post',
  path: `${base}/bans`,
  tags,
  security,
  summary: "Ban a comment's author by email hash or IP hash, for a time or for good",
  description:
    'New comments from a banned author are rejected as they are stored (reason banned). With rejectPending their held and pending comments are rejected too.',
  request: { params: s.SiteParam, body: body(s.BanBody) },
  responses: { 201: json('Banned', s.BanCreatedSchema), ...guarded },
});

export const revokeBan = createRoute({
  method: 'delete',
  path: `${base}/bans/{banId}`,
  tags,
  security,
  summary: 'Lift a ban',
  request: { params: s.BanParams },
  responses: { 204: { description: 'Lifted' }, ...guarded },
});

export const history = createRoute({
  method: 'get',
  path: `${base}/history`,
  tags,
  security,
  summary: 'Moderator decisions on this site, newest first',
  request: { params: s.SiteParam, query: s.HistoryQuery },
  responses: { 200: json('Decisions', s.HistorySchema), ...guarded },
});

export const signIn = createRoute({
  method: 'post',
  path: '/api/v1/moderation/session',
  tags,
  summary: 'Sign in to the moderation UI (sets the session cookie)',
  request: { body: body(s.SignInBody) },
  responses: {
    200: json('Signed in; send csrfToken as X-CSRF-Token on every state change', s.SessionSchema),
    401: problem('invalid_credentials'),
    403: problem('Cross-origin sign-in refused'),
    422: problem('Invalid input'),
    429: problem('Too many attempts'),
  },
});

export const session = createRoute({
  method: 'get',
  path: '/api/v1/moderation/session',
  tags,
  security,
  summary: 'Who is signed in, their sites and roles',
  responses: { 200: json('The session', s.SessionSchema), 401: problem('Not signed in') },
});

export const signOut = createRoute({
  method: 'delete',
  path: '/api/v1/moderation/session',
  tags,
  security,
  summary: 'Sign out',
  responses: {
    204: { description: 'Signed out' },
    401: problem('Not signed in'),
    403: problem('CSRF token missing'),
  },
});
