/** Builds the HTTP app from its dependencies; entrypoints serve it, tests call it in-process. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import type { AppDeps, AppEnv } from './deps';
import { AppError, problemResponse, toAppError, zodIssues } from './lib/errors';
import { withClientIp } from './lib/http';
import { metrics, routeLabel } from './lib/metrics';
import { mountRoutes } from './routes';
import { submitFastPath } from './routes/comments/submit-fast-path';
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

  // A path that exists under other methods answers 405 with Allow, as HTTP asks, not 404.
  let allowedFor: ((path: string) => string[]) | undefined;
  app.notFound((c) => {
    allowedFor ??= methodsByPath(app.routes);
    const allowed = allowedFor(c.req.path);
    if (!allowed.length) return problemResponse(c, AppError.notFound('Route'));
    c.header('Allow', allowed.join(', '));
    return problemResponse(
      c,
      new AppError(
        405,
        'method_not_allowed',
        `${c.req.method} is not supported here; use ${allowed.join(', ')}`,
      ),
    );
  });
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
  // Plain submissions are taken on node:http, in front of the adapter (src/entry.ts serveApp).
  return Object.assign(app, { fastThread, fastSubmit: submitFastPath(deps) });
}

export type App = ReturnType<typeof createApp>;

/** Hono route pattern → RegExp: `:name` one segment, `:name{re}` that regex, `*` anything. */
function patternToRegExp(pattern: string): RegExp | undefined {
  let out = '';
  for (let i = 0; i < pattern.length; ) {
    const ch = pattern[i]!;
    if (ch === ':') {
      const m = /^:[A-Za-z0-9_]+(\{((?:[^{}]|\{[^{}]*\})+)\})?\??/.exec(pattern.slice(i));
      if (!m) return undefined;
      out += m[2] ? `(?:${m[2]})` : '[^/]+';
      i += m[0].length;
    } else if (ch === '*') {
      out += '.*';
      i++;
    } else {
      out += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
      i++;
    }
  }
  try {
    return new RegExp(`^${out}$`);
  } catch {
    return undefined;
  }
}

/** For a path no route answered: the methods its routes do answer (none: a real 404). */
function methodsByPath(routes: readonly { method: string; path: string }[]) {
  const table = routes
    .filter((r) => r.method !== 'ALL')
    .map((r) => ({ method: r.method, re: patternToRegExp(r.path) }))
    .filter((r): r is { method: string; re: RegExp } => r.re !== undefined);
  return (path: string): string[] => {
    const methods = new Set(table.filter((r) => r.re.test(path)).map((r) => r.method));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}
