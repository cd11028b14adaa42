/**
 * Wires real dependencies from config: pools, Redis clients, queues, caches. Entrypoints (API,
 * workers, all-in-one) and the benchmark share it; tests build theirs the same way.
 */
import { once } from 'node:events';
import type { Kysely } from 'kysely';
import { createDb, ensureDatabase } from '../db/database';
import { migrateToLatest } from '../db/migrate';
import type { Database } from '../db/schema';
import { type Config, redisUrls } from './config';
import type { AppDeps } from './deps';
import { createLogger, type Logger } from './lib/logger';
import { checkRedisSettings } from './lib/redis-checks';
import { createQueues, createRedis, type RedisClient } from './queue';
import { countSites, createSite } from './repositories/sites';
import { DEMO_SITE_ID } from './routes/demo';
import { createIngestor } from './services/ingest';
import { registerLearnOutboxRoute } from './services/learn-route';
import { createSiteCache } from './services/site-cache';
import { registerWebhookOutboxRoute } from './webhooks/outbox-route';

export class StartupError extends Error {}

export interface Runtime extends AppDeps {
  producerRedis: RedisClient;
  close(): Promise<void>;
}

function publicBase(config: Config): string {
  return config.PUBLIC_URL ?? `http://localhost:${config.PORT}`;
}

export function createRuntime(config: Config, logger: Logger = createLogger(config.LOG_LEVEL)): Runtime {
  // Both the API and the workers publish outbox rows, so both must route them to the webhook fan-out.
  registerWebhookOutboxRoute();
  // Moderator decisions teach the site's adaptive model (workers/learn.ts); same reason as above.
  registerLearnOutboxRoute();
  const db = createDb({
    url: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    connectionTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
  });
  const readDb = config.DATABASE_READ_URL
    ? createDb({
        url: config.DATABASE_READ_URL,
        poolMax: config.DATABASE_POOL_MAX,
        connectionTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
      })
    : undefined;
  // No auto-pipelining: the flood-control counters, the one busy user of this client, group
  // concurrent requests themselves (src/lib/rate-limit.ts).
  const redis = createRedis(config, 'general');
  const producerRedis = createRedis(config, 'producer');
  const queues = createQueues(producerRedis, config.QUEUE_PREFIX);
  const sites = createSiteCache(db, config.CACHE_TTL_MS);
  const ingest = createIngestor({
    db,
    queues,
    maxBatch: config.INGEST_MAX_BATCH,
    maxInFlight: config.INGEST_MAX_IN_FLIGHT,
    linger: { ms: config.INGEST_LINGER_MS, below: config.INGEST_LINGER_BELOW },
    cacheTtlMs: config.CACHE_TTL_MS,
    onRefused: (err, siteId) =>
      logger.warn(
        { siteId, sqlState: (err as { code?: string }).code, err: (err as Error).message },
        'Postgres refused a validated submission; only it was refused',
      ),
  });
  return {
    config,
    db,
    readDb,
    redis,
    producerRedis,
    queues,
    logger,
    sites,
    ingest,
    now: () => new Date(),
    async close() {
      await queues.close().catch(() => {});
      redis.disconnect();
      producerRedis.disconnect();
      await db.destroy();
      await readDb?.destroy();
    },
  };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** REDIS_URL may list several seed nodes (REDIS_CLUSTER): each is redacted. */
function redact(urls: string): string {
  return redisUrls(urls)
    .map((url) => {
      const u = new URL(url);
      if (u.password) u.password = '***';
      return u.toString();
    })
    .join(',');
}

/** Checks that Postgres and Redis answer; fails with a message that says how to start them. */
export async function checkBackends(config: Config, redis: RedisClient, logger?: Logger): Promise<void> {
  try {
    await withTimeout(ensureDatabase(config.DATABASE_URL), 6000, 'Postgres');
  } catch (err) {
    throw new StartupError(
      `Cannot reach Postgres at ${redact(config.DATABASE_URL)} (${(err as Error).message}).\n` +
        '  Start it (for example `docker compose up -d postgres redis`, or your system service) or set DATABASE_URL.',
    );
  }
  try {
    // A fresh client is still connecting, and with its offline queue off a command sent now fails.
    if (redis.status !== 'ready') await withTimeout(once(redis, 'ready'), 4000, 'Redis');
    await withTimeout(redis.ping(), 4000, 'Redis');
  } catch (err) {
    throw new StartupError(
      `Cannot reach Redis at ${redact(config.REDIS_URL)} (${(err as Error).message}).\n` +
        '  Start it (for example `docker compose up -d postgres redis`, or `redis-server`) or set REDIS_URL.',
    );
  }
  const verdict = await withTimeout(
    checkRedisSettings(redis, {
      requireNoeviction: config.REDIS_REQUIRE_NOEVICTION,
      warnNoPersistence: config.REDIS_WARN_NO_PERSISTENCE,
    }),
    4000,
    'Redis',
  ).catch((err: Error) => {
    throw new StartupError(`Cannot read Redis settings at ${redact(config.REDIS_URL)} (${err.message}).`);
  });
  if (verdict.errors.length) throw new StartupError(verdict.errors.join('\n'));
  if (verdict.warnings.length) {
    const log = logger ?? createLogger(config.LOG_LEVEL);
    for (const w of verdict.warnings) log.warn({ redis: verdict.nodes ?? verdict.settings }, w);
  }
}

/** Migrations, then the demo site on an empty database. Safe to run from several processes. */
export async function prepareDatabase(db: Kysely<Database>, config: Config, logger: Logger): Promise<void> {
  // Kysely's Migrator serialises concurrent runs with a transaction-level advisory lock.
  await migrateToLatest(db);
  if (!config.DEMO || (await countSites(db)) > 0) return;
  const base = publicBase(config);
  const origins = [
    ...new Set([new URL(base).origin, `http://localhost:${config.PORT}`, `http://127.0.0.1:${config.PORT}`]),
  ];
  try {
    const site = await db
      .transaction()
      .execute((trx) => createSite(trx, { id: DEMO_SITE_ID, name: 'Parley demo', allowedOrigins: origins }));
    logger.info({ siteId: site.id, allowedOrigins: origins }, `created demo site ${site.id}`);
  } catch (err) {
    // Another replica created it first.
    if ((err as { code?: string }).code !== '23505') throw err;
  }
}

export { publicBase };
