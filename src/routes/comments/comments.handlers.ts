/** Handlers for the public comment API. */
import type { RouteHandler } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { pickForm } from '../../lib/content-coding';
import { checkAuthorToken, hashIp, issueFormToken } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { UUID_RE } from '../../lib/ids';
import { rateLimiterFor, siteLimits } from '../../lib/rate-limit';
import { decodeCursor, findPublicStatus } from '../../repositories/comments';
import { edit as editComment, withdraw as withdrawComment } from '../../services/author-actions';
import { threadCacheFor } from '../../services/thread-cache';
import type { commentRoutes } from './comments.routes';
import { editableUntil, submitComment, toPublicStatus } from './submit';

type Routes = ReturnType<typeof commentRoutes>;

export function commentHandlers(deps: AppDeps) {
  // Shared with the fast path (thread-fast-path.ts); reads may go to a replica (DATABASE_READ_URL).
  const threads = threadCacheFor(deps);
  const submit: RouteHandler<Routes['submit'], AppEnv> = async (c) => {
    const { siteId, articleId } = c.req.valid('param');
    const { location, body } = await submitComment(deps, {
      siteId,
      articleId,
      site: c.get('site'),
      input: c.req.valid('json'),
      idempotencyKey: c.req.header('idempotency-key'),
      userAgent: c.req.header('user-agent'),
      referer: c.req.header('referer'),
      origin: c.req.header('origin'),
      clientIp: c.get('clientIp'),
      requestId: c.get('requestId'),
    });
    c.header('Location', location);
    return c.json(body, 202);
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
    // After siteCors's `Origin`: the same Vary as the fast path's (THREAD_VARY).
    c.header('Vary', 'Accept-Encoding', { append: true });
    if (page.etag) {
      c.header('ETag', page.etag);
      const inm = c.req.header('if-none-match');
      if (inm?.split(',').some((t) => t.trim() === page.etag)) return c.body(null, 304);
    }
    // Already serialized, and compressed, once for every reader of this version of the page.
    c.header('Content-Type', 'application/json');
    const form = pickForm(page.body, page.compressed, c.req.header('accept-encoding'));
    if (form.coding) c.header('Content-Encoding', form.coding);
    return c.body(typeof form.body === 'string' ? form.body : new Uint8Array(form.body), 200) as never;
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
