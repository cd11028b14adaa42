/**
 * Mounts the public comment-count endpoint. Its path sits under /api/v1/sites/:siteId/*, where
 * mountComments already applies siteCors (site lookup, 404 for an unknown site, any origin may
 * read), so it is not applied a second time here.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { countsHandler } from './counts.handlers';
import { countsRoute } from './counts.routes';

export function mountCounts(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  app.openapi(countsRoute, countsHandler(deps));
}
