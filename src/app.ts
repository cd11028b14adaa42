/** Builds the HTTP app from its dependencies; entrypoints serve it, tests call it in-process. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import type { AppDeps, AppEnv } from './deps';
import { AppError, problemResponse, toAppError, zodIssues } from './lib/errors';
import { withClientIp } from './lib/http';
import { metrics, routeLabel } from './lib/metrics';
import { mountRoutes } from './routes';
import { threadFastPath } from './routes/comments/thread-fast-path';

export function createApp(deps: AppDeps) {
  const app = new OpenAPIHono<AppEnv>({
    // Validation failures use the same problem shape as every other error.
    defaultHook: (result) => {
      if (!result.success) throw AppError.validation(zodIssues(result.error));
    },
  });

  app.use(requestId({ limitLength: 64 }));
  app.use(async (c, next) => {
    const started = performance.now();
    const log = deps.logger.child({ requestId: c.get('requestId') });
    c.set('log', log);
    await next();
    const seconds = (performance.now() - started) / 1000;
    const ms = Math.round(seconds * 10_000) / 10;
    const status = c.res.status;
    // Label by route pattern, never the raw path: ids in paths would make unbounded series.
    const labels = { method: c.req.method, route: routeLabel(c), status: String(status) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
    if (status >= 500) log.error({ method: c.req.method, path: c.req.path, status, ms }, 'request failed');
    else log.debug({ method: c.req.method, path: c.req.path, status, ms }, 'request');
  });
  const tooLarge = () => {
    throw new AppError(
      413,
      'payload_too_large',
      `The request body is larger than ${deps.config.MAX_BODY_BYTES} bytes`,
    );
  };
  const limitStreamedBody = bodyLimit({ maxSize: deps.config.MAX_BODY_BYTES, onError: tooLarge });
  app.use(async (c, next) => {
    // hono's bodyLimit looks at c.req.raw.body first, which makes @hono/node-server build a full
    // Fetch Request (body stream, AbortSignal) for every request: the largest single cost of a
    // submission in the profile. A GET or HEAD has no body to limit, and a declared length is
    // enough (Node's parser reads exactly that many bytes); only a chunked body is counted as read.
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      return Number.parseInt(length, 10) > deps.config.MAX_BODY_BYTES ? tooLarge() : next();
    }
    return limitStreamedBody(c, next);
  });
  app.use(withClientIp(deps));

  mountRoutes(app, deps);

  app.notFound((c) => problemResponse(c, AppError.notFound('Route')));
  app.onError((err, c) => {
    const appErr = toAppError(err);
    if (appErr.status >= 500) {
      (c.get('log') ?? deps.logger).error({ err, path: c.req.path }, 'unhandled error');
    }
    return problemResponse(c, appErr);
  });
  // Before the router and everything else: a cached, fresh thread page is answered at once.
  // Synchronous, so @hono/node-server writes the answer without awaiting a promise.
  const fastThread = threadFastPath(deps);
  const handle = app.fetch;
  app.fetch = (req, env, ctx) => fastThread.fetch(req) ?? handle(req, env, ctx);
  return Object.assign(app, { fastThread });
}

export type App = ReturnType<typeof createApp>;
