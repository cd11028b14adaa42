/**
 * Builds a real Parley (Postgres, Redis, BullMQ) for one test file: the run's database, a queue
 * prefix of its own, the real app factory and, if asked, the real workers.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import pg from 'pg';
import { inject } from 'vitest';
import { createApp } from '../../src/app';
import { type Config, loadConfig } from '../../src/config';
import type { AppDeps } from '../../src/deps';
import { createLogger } from '../../src/lib/logger';
import { deleteKeysWithPrefix } from '../../src/lib/redis-keys';
import type { PolicyInput } from '../../src/moderation/policy';
import { defaultRules } from '../../src/moderation/rules';
import type { Rule } from '../../src/moderation/types';
import { createRedis } from '../../src/queue';
import { decisionsFor } from '../../src/repositories/decisions';
import { createSite } from '../../src/repositories/sites';
import { createToken } from '../../src/repositories/tokens';
import { createRuntime, type Runtime } from '../../src/runtime';
import { type RunningWorkers, startWorkers, type WorkerDeps } from '../../workers/index';
import { createModerateProcessor } from '../../workers/moderate';

export const TEST_ORIGIN = 'https://news.example';

export interface TestContextOptions {
  workers?: boolean;
  env?: Record<string, string>;
  workerOptions?: Partial<WorkerDeps>;
}

export interface TestContext {
  config: Config;
  rt: Runtime;
  app: ReturnType<typeof createApp>;
  workers?: RunningWorkers;
  deps: AppDeps;
  /** Creates a site with TEST_ORIGIN allowed and returns its id (a generated one unless `id` is given). */
  site(policy?: PolicyInput, origins?: string[], id?: string): Promise<string>;
  token(siteId: string, role: 'admin' | 'moderator'): Promise<string>;
  /** JSON request against the in-process app. */
  request(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  submit(
    siteId: string,
    articleId: string,
    body: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Each test file gets its own copy of the migrated template database, so one file's workers,
 * relays and sweeps (which act on every row of their database) never touch another file's rows.
 * Contexts within a file share it; the run's teardown drops it.
 */
const fileDatabaseUrl = (() => {
  const u = new URL(inject('databaseUrl'));
  u.pathname = `${u.pathname}_f${randomBytes(4).toString('hex')}`;
  return u.toString();
})();
let fileDatabaseReady: Promise<void> | undefined;

function ensureFileDatabase(): Promise<void> {
  fileDatabaseReady ??= (async () => {
    const admin = new URL(fileDatabaseUrl);
    admin.pathname = '/postgres';
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    try {
      const name = new URL(fileDatabaseUrl).pathname.slice(1);
      await client.query(
        `create database ${pg.escapeIdentifier(name)} template ${pg.escapeIdentifier(inject('templateDatabase'))}`,
      );
    } finally {
      await client.end();
    }
  })();
  return fileDatabaseReady;
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: fileDatabaseUrl,
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: `${inject('queuePrefix')}-${randomBytes(4).toString('hex')}`,
    PARLEY_SECRET: 'test-secret-0123456789abcdef',
    LOG_LEVEL: 'silent',
    DEMO: 'false',
    CACHE_TTL_MS: '0',
    ...env,
  });
}

export async function createTestContext(opts: TestContextOptions = {}): Promise<TestContext> {
  await ensureFileDatabase();
  const config = testConfig(opts.env);
  const rt = createRuntime(config, createLogger(config.LOG_LEVEL));
  // As the entrypoints do (checkBackends): a fresh fail-fast client refuses commands until it has
  // connected, and the submit route answers 503 while Redis is not ready.
  await Promise.all(
    [rt.redis, rt.producerRedis].map((client) =>
      client.status === 'ready' ? undefined : once(client, 'ready'),
    ),
  );
  const app = createApp(rt);
  let workerConnection: ReturnType<typeof createRedis> | undefined;
  let workers: RunningWorkers | undefined;
  if (opts.workers) {
    workerConnection = createRedis(config, 'worker');
    workers = startWorkers({
      db: rt.db,
      queues: rt.queues,
      workerConnection,
      sites: rt.sites,
      logger: rt.logger,
      concurrency: 16,
      relayIntervalMs: 100,
      sweepIntervalMs: 60_000,
      sweepAfterMs: 30_000,
      config,
      ...opts.workerOptions,
    });
  }

  const request = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    Promise.resolve(
      app.request(path, {
        method,
        headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    );

  return {
    config,
    rt,
    app,
    workers,
    deps: rt,
    async site(policy, origins = [TEST_ORIGIN], id) {
      const s = await rt.db
        .transaction()
        .execute((trx) => createSite(trx, { name: 'Test site', allowedOrigins: origins, policy, id }));
      return s.id;
    },
    async token(siteId, role) {
      return (await createToken(rt.db, { siteId, role, name: `test ${role}` })).token;
    },
    request,
    submit: (siteId, articleId, body, headers = {}) =>
      request('POST', `/api/v1/sites/${siteId}/articles/${encodeURIComponent(articleId)}/comments`, body, {
        origin: TEST_ORIGIN,
        ...headers,
      }),
    async close() {
      await workers?.close(2000);
      workerConnection?.disconnect();
      // Remove this context's queue keys (on every master of a cluster); the run's teardown
      // removes anything left.
      await deleteKeysWithPrefix(rt.redis, config.QUEUE_PREFIX);
      await rt.close();
    },
  };
}

/** Polls `fn` until it returns a truthy value or the time runs out (then throws with `what`). */
/** Waits for the worker's decision on a comment: its system audit row. */
export function systemDecision(t: Pick<TestContext, 'rt'>, commentId: string) {
  return waitFor(
    async () => (await decisionsFor(t.rt.db, commentId)).find((r) => r.actor_type === 'system'),
    `decision for ${commentId}`,
  );
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/**
 * The moderate worker's processor on a test context's runtime, for tests that run it themselves at
 * the moment they need to (a context with no workers, or jobs on a prefix no worker reads).
 */
export function moderateProcessor(
  t: Pick<TestContext, 'rt'>,
  rules: readonly Rule[] = defaultRules,
  extra: Partial<Parameters<typeof createModerateProcessor>[0]> = {},
) {
  return createModerateProcessor({
    db: t.rt.db,
    queues: t.rt.queues,
    sites: t.rt.sites,
    rules,
    now: () => new Date(),
    ...extra,
  });
}

// Distinct texts: near-copies on one site would be held by the duplicates rule.
const TOPICS = [
  'harbour council',
  'lighthouse keepers',
  'coastal footpath',
  'ferry timetable',
  'town budget',
];
const VIEWS = [
  'was careful and fair',
  'answered my questions',
  'deserves a follow-up',
  'read well at breakfast',
];
let benignSeq = 0;

/** A harmless comment text the default rules publish, different from the previous twenty. */
export function benignText(): string {
  const n = benignSeq++;
  return `The piece on the ${TOPICS[n % TOPICS.length]} ${VIEWS[Math.floor(n / TOPICS.length) % VIEWS.length]}.`;
}

/** The CORS preflight the embed sends before a JSON POST from the test origin's page. */
export function corsPreflight(t: Pick<TestContext, 'request'>, path: string) {
  return t.request('OPTIONS', path, undefined, {
    origin: TEST_ORIGIN,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'content-type',
  });
}

/** An article's public thread page; `body` is the parsed page when it answered 200. */
export async function threadPage<T>(
  t: Pick<TestContext, 'request'>,
  siteId: string,
  article: string,
  headers: Record<string, string> = {},
) {
  const res = await t.request(
    'GET',
    `/api/v1/sites/${siteId}/articles/${article}/comments`,
    undefined,
    headers,
  );
  return { res, body: res.status === 200 ? ((await res.json()) as T) : undefined };
}

/** A comment's outbox rows in the order written, of one topic if given. */
export function outboxRows(t: Pick<TestContext, 'rt'>, commentId: string, topic?: string) {
  let q = t.rt.db.selectFrom('outbox').selectAll().where('comment_id', '=', commentId);
  if (topic) q = q.where('topic', '=', topic);
  return q.orderBy('id').execute();
}
