/** Mounts the public comment API: per-site CORS, JSON-only writes, then the handlers. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppDeps, AppEnv } from '../../deps';
import { jsonBody, siteCors } from '../../lib/http';
import { commentHandlers } from './comments.handlers';
import { commentRoutes } from './comments.routes';

/**
 * jsonBody leaves the parsed object in bodyCache.json, but hono's c.req.json(), which the route
 * validators call, reads bodyCache.text: finding only the ArrayBuffer there, it builds a whole
 * Fetch Response to decode the body again (about a tenth of a submission's CPU in the profile).
 * Handing it the text spares that. The proper home for this is jsonBody (src/lib/http.ts), which
 * is not this feature's file.
 */
function textForValidator(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const cache = c.req.bodyCache;
    if (cache.json && !cache.text) cache.text = cache.json.then((v: unknown) => JSON.stringify(v));
    return next();
  };
}

export function mountComments(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  app.use('/api/v1/sites/:siteId/*', siteCors(deps), jsonBody(), textForValidator());
  const routes = commentRoutes(deps.config.COMMENT_MAX_CHARS);
  const h = commentHandlers(deps);
  app.openapi(routes.submit, h.submit);
  app.openapi(routes.thread, h.thread);
  app.openapi(routes.status, h.status);
  app.openapi(routes.formToken, h.formToken);
}
