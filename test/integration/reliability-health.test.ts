/** Readiness with a queue canary, Prometheus metrics, request ids in worker logs, fast 503s, Redis checks. */
import { type AddressInfo, createServer } from 'node:net';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { toAppError } from '../../src/lib/errors';
import { judgePostgresSettings, readPostgresSettings } from '../../src/lib/postgres-checks';
import { judgeRedisSettings, readRedisSettings } from '../../src/lib/redis-checks';
import { createRedis } from '../../src/queue';
import { createRuntime } from '../../src/runtime';
import { startWorkers } from '../../workers/index';
import { createTestContext, TEST_ORIGIN, type TestContext, testConfig, waitFor } from '../helpers/context';

async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const body = (n: number) => ({
  authorName: 'Ada',
  body: `A kind and thoughtful note on the harbour story, ${n}.`,
});

describe('with a worker running', () => {
  let t: TestContext;
  const lines: Array<Record<string, unknown>> = [];
  let workers: ReturnType<typeof startWorkers>;
  let conn: ReturnType<typeof createRedis>;

  beforeAll(async () => {
    t = await createTestContext({ env: { READYZ_CANARY_TIMEOUT_MS: '3000' } });
    // Workers with a logger we can read, to follow a request id into its job.
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l));
        cb();
      },
    });
    conn = createRedis(t.config.REDIS_URL, 'worker');
    workers = startWorkers({
      db: t.rt.db,
      queues: t.rt.queues,
      workerConnection: conn,
      sites: t.rt.sites,
      logger: pino({ level: 'info' }, sink),
      concurrency: 8,
      relayIntervalMs: 100,
      sweepIntervalMs: 60_000,
      sweepAfterMs: 30_000,
    });
    await waitFor(async () => t.rt.redis.status === 'ready', 'redis ready');
  });
  afterAll(async () => {
    await workers?.close(2000);
    conn?.disconnect();
    await t?.close();
  });

  it('/readyz is ready only once a worker completes the canary job', async () => {
    const res = await t.request('GET', '/readyz');
    const json = (await res.json()) as { status: string; checks: Record<string, string> };
    expect(json.checks).toEqual({ postgres: 'ok', redis: 'ok', queue: 'ok' });
    expect(res.status).toBe(200);
  });

  it('follows the request id from the HTTP request into the worker log line of its decision', async () => {
    const siteId = await t.site();
    const res = await t.submit(siteId, 'rid', body(1), { 'x-request-id': 'req-follow-me-123' });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const line = await waitFor(
      async () => lines.find((l) => l.msg === 'comment decided' && l.commentId === id),
      'decision log line',
    );
    expect(line.requestId).toBe('req-follow-me-123');
    expect(line.jobId).toBe(`mod-${id}`);
  });

  it('/metrics exposes requests by route pattern, accepted comments, decisions, latency, queue and outbox', async () => {
    const siteId = await t.site();
    const res = await t.submit(siteId, 'metrics', body(2));
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await waitFor(
      async () =>
        (await t.rt.db.selectFrom('comments').select('status').where('id', '=', id).executeTakeFirst())
          ?.status !== 'pending',
      'decided',
    );
    const text = await (await t.request('GET', '/metrics')).text();
    expect(text).toMatch(
      /parley_http_requests_total\{method="POST",route="\/api\/v1\/sites\/:siteId\/articles\/:articleId\/comments",status="202"\} [1-9]/,
    );
    expect(text).toMatch(/parley_comments_accepted_total [1-9]/);
    expect(text).toMatch(
      /parley_moderation_decisions_total\{outcome="(publish|hold|reject)",rule="[^"]+"\} [1-9]/,
    );
    expect(text).toMatch(/parley_submission_to_decision_seconds_count [1-9]/);
    expect(text).toMatch(/parley_queue_jobs\{queue="moderate",state="waiting"\} \d+/);
    expect(text).toMatch(/parley_queue_oldest_waiting_seconds\{queue="moderate"\} [\d.]+/);
    expect(text).toMatch(/parley_outbox_lag_seconds [\d.]+/);
    // No raw ids in labels: the route label is the pattern.
    expect(text).not.toContain(siteId);
  });
});

describe('without a worker', () => {
  it('/readyz answers 503 naming the queue when no worker takes the canary', async () => {
    const t = await createTestContext({ env: { READYZ_CANARY_TIMEOUT_MS: '400' } });
    try {
      const started = Date.now();
      const res = await t.request('GET', '/readyz');
      expect(res.status).toBe(503);
      const json = (await res.json()) as { checks: Record<string, string> };
      expect(json.checks.queue).toMatch(/no worker completed the canary/);
      expect(json.checks.postgres).toBe('ok');
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await t.close();
    }
  });
});

describe('/metrics behind METRICS_TOKEN', () => {
  it('answers only a scraper that sends the token', async () => {
    const token = 'metrics-scraper-token-0123';
    const t = await createTestContext({ env: { METRICS_TOKEN: token, READYZ_CANARY_TIMEOUT_MS: '0' } });
    try {
      for (const authorization of [
        undefined,
        'Bearer wrong-token-of-some-length',
        token,
        `Bearer ${token}x`,
      ]) {
        const res = await t.request('GET', '/metrics', undefined, authorization ? { authorization } : {});
        expect(res.status, String(authorization)).toBe(401);
        expect(((await res.json()) as { code: string }).code).toBe('unauthorized');
      }
      const ok = await t.request('GET', '/metrics', undefined, { authorization: `Bearer ${token}` });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('parley_');
    } finally {
      await t.close();
    }
  });
});

describe('fast 503 when a backend is down', () => {
  it('answers a submission 503 within a second while Redis is unreachable, storing nothing', async () => {
    const good = await createTestContext();
    const siteId = await good.site();
    // A fresh site: nothing may be stored for it.
    const config = testConfig({
      REDIS_URL: `redis://127.0.0.1:${await deadPort()}`,
      READYZ_CANARY_TIMEOUT_MS: '500',
    });
    const rt = createRuntime(config, good.rt.logger);
    try {
      const app = createApp(rt);
      const started = Date.now();
      const res = await app.request(`/api/v1/sites/${siteId}/articles/a/comments`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: TEST_ORIGIN },
        body: JSON.stringify(body(3)),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(((await res.json()) as { code: string }).code).toBe('unavailable');
      expect(Date.now() - started).toBeLessThan(1000);
      const ready = await app.request('/readyz');
      expect(ready.status).toBe(503);
      const after = await good.rt.db
        .selectFrom('comments')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .where('site_id', '=', siteId)
        .executeTakeFirstOrThrow();
      expect(Number(after.n)).toBe(0);
    } finally {
      await rt.close();
      await good.close();
    }
  });

  it('answers 503 (not 500, not a hang) while Postgres is unreachable', async () => {
    const url = new URL(testConfig().DATABASE_URL);
    url.port = String(await deadPort());
    const config = testConfig({ DATABASE_URL: url.toString(), READYZ_CANARY_TIMEOUT_MS: '0' });
    const rt = createRuntime(config);
    try {
      await waitFor(async () => rt.redis.status === 'ready', 'redis ready');
      const app = createApp(rt);
      const started = Date.now();
      const res = await app.request(
        '/api/v1/sites/0190f7e2-0000-7000-8000-000000000000/articles/a/comments',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: TEST_ORIGIN },
          body: JSON.stringify(body(4)),
        },
      );
      expect(res.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await rt.close();
    }
  });

  it('maps connectivity errors of pg and ioredis to 503 and anything else to 500', () => {
    const e = (code: string | undefined, message: string) => Object.assign(new Error(message), { code });
    expect(toAppError(e('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')).status).toBe(503);
    expect(toAppError(e('57P01', 'terminating connection due to administrator command')).status).toBe(503);
    expect(toAppError(e(undefined, 'timeout exceeded when trying to connect')).status).toBe(503);
    expect(toAppError(e(undefined, 'Reached the max retries per request limit (which is 1).')).status).toBe(
      503,
    );
    expect(
      toAppError(e(undefined, "Stream isn't writeable and enableOfflineQueue options is false")).status,
    ).toBe(503);
    expect(toAppError(e('23505', 'duplicate key value')).status).toBe(500);
  });
});

describe('Redis start-up checks', () => {
  it('refuses an evicting policy with a fix, warns about no persistence, accepts noeviction', () => {
    const opts = { requireNoeviction: true, warnNoPersistence: true };
    const lru = judgeRedisSettings({ maxmemoryPolicy: 'allkeys-lru', aof: true, save: '' }, opts);
    expect(lru.errors).toHaveLength(1);
    expect(lru.errors[0]).toContain('CONFIG SET maxmemory-policy noeviction');
    expect(
      judgeRedisSettings(
        { maxmemoryPolicy: 'allkeys-lru', aof: true, save: '' },
        { ...opts, requireNoeviction: false },
      ).errors,
    ).toEqual([]);
    const volatile = judgeRedisSettings({ maxmemoryPolicy: 'noeviction', aof: false, save: '' }, opts);
    expect(volatile.errors).toEqual([]);
    expect(volatile.warnings[0]).toContain('appendonly yes');
    expect(
      judgeRedisSettings({ maxmemoryPolicy: 'noeviction', aof: false, save: '3600 1' }, opts).warnings,
    ).toEqual([]);
  });

  it("reads this machine's Redis: noeviction, so start-up proceeds", async () => {
    const redis = createRedis(testConfig().REDIS_URL, 'worker');
    try {
      const s = await readRedisSettings(redis);
      expect(s.maxmemoryPolicy).toBe('noeviction');
      expect(judgeRedisSettings(s, { requireNoeviction: true, warnNoPersistence: true }).errors).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });
});

describe('Postgres start-up advice', () => {
  it('warns, with the fix, when autovacuum or the counts it needs are off, and is silent otherwise', () => {
    expect(judgePostgresSettings({ autovacuum: true, trackCounts: true })).toEqual([]);
    expect(judgePostgresSettings({ autovacuum: null, trackCounts: null })).toEqual([]);
    const [av] = judgePostgresSettings({ autovacuum: false, trackCounts: true });
    expect(av).toContain('autovacuum off');
    expect(av).toContain('`autovacuum = on`');
    expect(av).not.toContain('track_counts');
    const both = judgePostgresSettings({ autovacuum: false, trackCounts: false });
    expect(both).toHaveLength(1);
    expect(both[0]).toContain('autovacuum and track_counts off');
  });

  it("reads this machine's Postgres as SHOW reports it", async () => {
    const t = await createTestContext();
    try {
      const shown = async (name: string) =>
        (await sql<Record<string, string>>`${sql.raw(`show ${name}`)}`.execute(t.rt.db)).rows[0]?.[name];
      const s = await readPostgresSettings(t.rt.db);
      expect(s.autovacuum).toBe((await shown('autovacuum')) === 'on');
      expect(s.trackCounts).toBe((await shown('track_counts')) === 'on');
      expect(judgePostgresSettings(s).length).toBe(s.autovacuum && s.trackCounts ? 0 : 1);
    } finally {
      await t.close();
    }
  });
});
