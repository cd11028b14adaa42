/** Every feature's routes, mounted in one place: the map of the HTTP API. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../deps';
import { mountAdmin } from './admin';
import { mountComments } from './comments';
import { mountCounts } from './counts';
import { mountDemo } from './demo';
import { mountDocs } from './docs';
import { mountEmbed } from './embed';
import { mountFavicon } from './favicon';
import { mountHealth } from './health';
import { mountMetrics } from './metrics';
import { mountModeration } from './moderation';
import { mountModerationUi } from './moderation-ui';
import { mountPolicy } from './policy';
import { mountReports } from './reports';
import { mountWebhooks } from './webhooks';

export function mountRoutes(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  mountHealth(app, deps);
  mountMetrics(app, deps);
  mountComments(app, deps);
  // After mountComments: the counts route relies on its siteCors for /api/v1/sites/:siteId/*.
  mountCounts(app, deps);
  mountAdmin(app, deps);
  mountModeration(app, deps);
  mountModerationUi(app);
  // After mountComments: relies on its siteCors and jsonBody for /api/v1/sites/:siteId/*.
  mountReports(app, deps);
  // After mountAdmin: relies on its jsonBody() for /api/v1/admin/*.
  mountWebhooks(app, deps);
  // After mountAdmin: relies on its jsonBody() for /api/v1/admin/*.
  mountPolicy(app, deps);
  mountFavicon(app);
  mountEmbed(app, deps);
  mountDemo(app, deps);
  mountDocs(app);
}
