/** Liveness and readiness probes. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { sql } from 'kysely';
import type { AppDeps, AppEnv } from '../../deps';

const Health = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.record(z.string(), z.string()).optional(),
});

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  tags: ['operations'],
  summary: 'The process is alive',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Health } } } },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  tags: ['operations'],
  summary: 'Postgres and Redis are reachable',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: Health } } },
    503: { description: 'Not ready', content: { 'application/json': { schema: Health } } },
  },
});

async function probe(fn: () => Promise<unknown>, ms = 1000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), ms);
      }),
    ]);
    return 'ok';
  } catch (err) {
    return `failed: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

/** Extra readiness checks other features register (e.g. a canary job through the queue). */
export type ReadinessCheck = { name: string; run: () => Promise<unknown> };

export function mountHealth(app: OpenAPIHono<AppEnv>, deps: AppDeps, extra: ReadinessCheck[] = []): void {
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readyz, async (c) => {
    const checks: Record<string, string> = {
      postgres: await probe(() => sql`select 1`.execute(deps.db)),
      redis: await probe(() => deps.redis.ping()),
    };
    for (const check of extra) checks[check.name] = await probe(check.run, 3000);
    const ok = Object.values(checks).every((v) => v === 'ok');
    c.header('Cache-Control', 'no-store');
    return c.json({ status: ok ? ('ok' as const) : ('unavailable' as const), checks }, ok ? 200 : 503);
  });
}
