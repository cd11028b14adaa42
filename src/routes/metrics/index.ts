/** Prometheus scrape endpoint. Optionally guarded by a bearer token, since it reveals traffic levels. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { safeEqual } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { bindMetricsBackends, renderMetrics } from '../../lib/metrics';

export function mountMetrics(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  bindMetricsBackends({ db: deps.db, queues: [deps.queues.moderate, deps.queues.events] });
  app.get('/metrics', async (c) => {
    const token = deps.config.METRICS_TOKEN;
    if (token && !safeEqual(c.req.header('authorization') ?? '', `Bearer ${token}`)) {
      throw new AppError(401, 'unauthorized', 'A metrics bearer token is required');
    }
    const { contentType, body } = await renderMetrics();
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
  });
}
