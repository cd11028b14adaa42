/** Handlers for the public comment API. */
import type { RouteHandler } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import {
  authorToken,
  checkAuthorToken,
  checkFormToken,
  hashEmail,
  hashIp,
  issueFormToken,
} from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { UUID_RE } from '../../lib/ids';
import { metrics } from '../../lib/metrics';
import { authorKey, rateLimiterFor, siteLimits } from '../../lib/rate-limit';
import { decodeCursor, findPublicStatus } from '../../repositories/comments';
import { edit as editComment, withdraw as withdrawComment } from '../../services/author-actions';
import { threadCacheFor } from '../../services/thread-cache';
import type { commentRoutes } from './comments.routes';

type Routes = ReturnType<typeof commentRoutes>;

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{8,200}$/;

export function toPublicStatus(status: string): 'pending' | 'published' | 'rejected' {
  if (status === 'published') return 'published';
  if (status === 'pending' || status === 'held') return 'pending';
  return 'rejected';
}

/** Until when a comment posted at `createdAt` may be edited under the site's window; null: never. */
export function editableUntil(createdAt: Date, windowSeconds: number): string | null {
  return windowSeconds > 0 ? new Date(createdAt.getTime() + windowSeconds * 1000).toISOString() : null;
}

export function commentHandlers(deps: AppDeps) {
  // Shared with the fast path (thread-fast-path.ts); reads may go to a replica (DATABASE_READ_URL).
  const threads = threadCacheFor(deps);
  const submit: RouteHandler<Routes['submit'], AppEnv> = async (c) => {
    const { siteId, articleId } = c.req.valid('param');
    const input = c.req.valid('json');
    const idem = c.req.header('idempotency-key');
    if (idem !== undefined && !IDEMPOTENCY_KEY.test(idem)) {
      throw AppError.validation([{ path: 'Idempotency-Key', message: '8 to 200 visible ASCII characters' }]);
    }
    const secret = deps.config.PARLEY_SECRET;
    const ip = c.get('clientIp');
    // Redis away: say so at once rather than store a comment nobody can moderate until it is back
    // (REDIS_DOWN_SUBMISSIONS=accept stores it; the outbox relays it later).
    if (deps.config.REDIS_DOWN_SUBMISSIONS === 'reject' && deps.redis.status !== 'ready') {
      throw AppError.unavailable('The comment queue is unavailable; nothing was stored. Try again shortly');
    }
    const ipHash = ip ? hashIp(secret, ip) : null;
    const emailHash = input.authorEmail ? hashEmail(secret, input.authorEmail) : null;
    await rateLimiterFor(deps).consume(
      {
        submit_ip: ipHash ? `${siteId}:${ipHash}` : null,
        submit_author: authorKey(siteId, emailHash),
        submit_article: `${siteId}:${articleId}`,
      },
      siteLimits(c.get('site').policy),
    );
    const now = deps.now();
    const token = checkFormToken(secret, siteId, input.formToken, now.getTime());
    const accepted = await deps.ingest.submit({
      siteId,
      articleExternalId: articleId,
      articleUrl: input.articleUrl ?? null,
      articleTitle: input.articleTitle ?? null,
      parentId: input.parentId ?? null,
      authorName: input.authorName.trim(),
      authorEmail: input.authorEmail ?? null,
      emailHash,
      body: input.body,
      ipHash,
      userAgent: c.req.header('user-agent')?.slice(0, 512) ?? null,
      referrer: (c.req.header('referer') ?? c.req.header('origin'))?.slice(0, 2000) ?? null,
      signals: {
        honeypot: Boolean(input.website && input.website.length > 0),
        formToken: token.state,
        ...(token.state === 'ok' ? { formAgeMs: token.ageMs } : {}),
      },
      idempotencyKey: idem ?? null,
      requestId: c.get('requestId'),
    });
    if (!accepted.replayed) metrics.commentsAccepted.inc();
    const statusUrl = `/api/v1/sites/${siteId}/comments/${accepted.id}`;
    c.header('Location', statusUrl);
    return c.json(
      {
        id: accepted.id,
        status: toPublicStatus(accepted.status),
        statusUrl,
        authorToken: authorToken(secret, accepted.id),
        editableUntil: editableUntil(accepted.createdAt, c.get('site').policy.editWindowSeconds),
      },
      202,
    );
  };

  const thread: RouteHandler<Routes['thread'], AppEnv> = async (c) => {
    const { siteId, articleId } = c.req.valid('param');
    const q = c.req.valid('query');
    const cursor = q.cursor ? decodeCursor(q.cursor) : null;
    if (q.cursor && !cursor) throw AppError.validation([{ path: 'cursor', message: 'Invalid cursor' }]);
    // Published content may be at most a second stale: the page cache is at most THREAD_CACHE_MS
    // behind, and the ETag makes revalidation cheap.
    const page = await threads.get({
      siteId,
      articleId,
      order: q.order,
      limit: q.limit,
      cursor: q.cursor,
      decodedCursor: cursor,
    });
    c.header('Cache-Control', 'public, max-age=1');
    if (page.etag) {
      c.header('ETag', page.etag);
      const inm = c.req.header('if-none-match');
      if (inm?.split(',').some((t) => t.trim() === page.etag)) return c.body(null, 304);
    }
    // Already serialized once for every reader of this version of the page.
    c.header('Content-Type', 'application/json');
    return c.body(page.body, 200) as never;
  };

  const status: RouteHandler<Routes['status'], AppEnv> = async (c) => {
    const { siteId, commentId } = c.req.valid('param');
    const row = await findPublicStatus(deps.db, siteId, commentId);
    if (!row) throw AppError.notFound('Comment');
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        id: row.id,
        status: toPublicStatus(row.status),
        parentId: row.parent_id,
        createdAt: row.created_at.toISOString(),
      },
      200,
    );
  };

  const formToken: RouteHandler<Routes['formToken'], AppEnv> = async (c) => {
    const { siteId } = c.req.valid('param');
    const now = deps.now();
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        token: issueFormToken(deps.config.PARLEY_SECRET, siteId, now.getTime()),
        issuedAt: now.toISOString(),
      },
      200,
    );
  };

  const withdraw: RouteHandler<Routes['withdraw'], AppEnv> = async (c) => {
    const { siteId } = c.req.valid('param');
    const commentId = c.req.valid('param').commentId.toLowerCase();
    const { authorToken: token } = c.req.valid('json');
    // One answer for every refusal (a wrong, missing or another comment's token, an id that is not
    // one, another site's comment), so nobody learns whether a comment exists. The token is checked
    // first: without it the database is never asked.
    if (!UUID_RE.test(commentId) || !checkAuthorToken(deps.config.PARLEY_SECRET, commentId, token)) {
      throw AppError.notFound('Comment');
    }
    const done = await withdrawComment(deps, {
      siteId,
      commentId,
      requestId: c.get('requestId'),
      now: deps.now(),
    });
    if (!done) throw AppError.notFound('Comment');
    c.header('Cache-Control', 'no-store');
    return c.json({ id: done.id, status: done.status }, 200);
  };

  const edit: RouteHandler<Routes['edit'], AppEnv> = async (c) => {
    const { siteId } = c.req.valid('param');
    const commentId = c.req.valid('param').commentId.toLowerCase();
    const { authorToken: token, body } = c.req.valid('json');
    // The same single answer as withdraw for every way of not proving authorship, before any query.
    if (!UUID_RE.test(commentId) || !checkAuthorToken(deps.config.PARLEY_SECRET, commentId, token)) {
      throw AppError.notFound('Comment');
    }
    const policy = c.get('site').policy;
    // Each edit is moderated again like a new comment, so it spends the reader's submission budget.
    const ip = c.get('clientIp');
    await rateLimiterFor(deps).consume(
      { submit_ip: ip ? `${siteId}:${hashIp(deps.config.PARLEY_SECRET, ip)}` : null },
      siteLimits(policy),
    );
    const done = await editComment(deps, {
      siteId,
      commentId,
      body,
      windowSeconds: policy.editWindowSeconds,
      requestId: c.get('requestId'),
      now: deps.now(),
    });
    if (!done) throw AppError.notFound('Comment');
    c.header('Cache-Control', 'no-store');
    return c.json(
      {
        id: done.id,
        status: toPublicStatus(done.status),
        editedAt: done.editedAt?.toISOString() ?? null,
        editableUntil: editableUntil(done.createdAt, policy.editWindowSeconds),
        changed: done.changed,
      },
      200,
    );
  };

  return { submit, thread, status, formToken, withdraw, edit };
}
