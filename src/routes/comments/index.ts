/** Mounts the public comment API: per-site CORS, JSON-only writes, then the handlers. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { jsonBody, siteCors } from '../../lib/http';
import { commentHandlers } from './comments.handlers';
import { commentRoutes } from './comments.routes';

export function mountComments(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  app.use('/api/v1/sites/:siteId/*', siteCors(deps), jsonBody());
  const routes = commentRoutes(deps.config.COMMENT_MAX_CHARS);
  const h = commentHandlers(deps);
  app.openapi(routes.submit, h.submit);
  app.openapi(routes.thread, h.thread);
  app.openapi(routes.status, h.status);
  app.openapi(routes.formToken, h.formToken);
  app.openapi(routes.withdraw, h.withdraw);
  app.openapi(routes.edit, h.edit);
}
