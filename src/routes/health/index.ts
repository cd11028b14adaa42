/** Liveness and readiness probes. */
import { randomUUID } from 'node:crypto';
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
  summary: 'Postgres and Redis are reachable and a worker completes a canary job',
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

/** Name of the no-op job the moderate worker answers at once (see workers/index.ts). */
export const CANARY_JOB = 'canary';

/**
 * Sends a no-op job through the moderate queue and waits for a worker to complete it, so a
 * wedged or absent worker fails readiness even while Redis itself answers. Concurrent probes share
 * one canary, and a success is reused for a second so a busy load balancer adds no load.
 */
export function queueCanary(deps: Pick<AppDeps, 'queues'>, timeoutMs: number): ReadinessCheck {
  let inFlight: Promise<void> | undefined;
  let okUntil = 0;
  const once = async () => {
    const q = deps.queues.moderate;
    const jobId = `canary-${randomUUID()}`;
    // lifo: jumps the backlog, so a long queue alone does not look like a wedged worker.
    await q.add(
      CANARY_JOB,
      { commentId: 'canary' },
      { jobId, lifo: true, attempts: 1, removeOnComplete: true, removeOnFail: false },
    );
    const deadline = Date.now() + timeoutMs;
    try {
      while (Date.now() < deadline) {
        const state = await q.getJobState(jobId);
        // removeOnComplete: once finished the job is gone ('unknown').
        if (state === 'completed' || state === 'unknown') return;
        if (state === 'failed') throw new Error('canary job failed');
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no worker completed the canary job within ${timeoutMs} ms`);
    } finally {
      await q.remove(jobId).catch(() => {});
    }
  };
  return {
    name: 'queue',
    run: async () => {
      if (Date.now() < okUntil) return;
      inFlight ??= once()
        .then(() => {
          okUntil = Date.now() + 1000;
        })
        .finally(() => {
          inFlight = undefined;
        });
      return inFlight;
    },
  };
}

export function mountHealth(app: OpenAPIHono<AppEnv>, deps: AppDeps, extra: ReadinessCheck[] = []): void {
  const ms = deps.config.READYZ_CANARY_TIMEOUT_MS;
  const checks = ms > 0 ? [...extra, queueCanary(deps, ms)] : extra;
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));
  app.openapi(readyz, async (c) => {
    const results: Record<string, string> = {
      postgres: await probe(() => sql`select 1`.execute(deps.db)),
      redis: await probe(() => deps.redis.ping()),
    };
    for (const check of checks) results[check.name] = await probe(check.run, ms + 1000);
    const ok = Object.values(results).every((v) => v === 'ok');
    c.header('Cache-Control', 'no-store');
    return c.json(
      { status: ok ? ('ok' as const) : ('unavailable' as const), checks: results },
      ok ? 200 : 503,
    );
  });
}
