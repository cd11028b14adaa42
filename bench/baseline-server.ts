/**
 * The reference the benchmark compares Parley's ingest against: the obvious implementation, with
 * the same drivers (Hono, Kysely on pg, BullMQ on ioredis). Per request: parse the JSON, one INSERT
 * into the same comments table, one queue add, answer 202. Nothing else: no validation, batching,
 * outbox or CORS. Started by bench/run.ts as a child process; configured by environment only.
 *
 *   BASELINE_PORT, DATABASE_URL, REDIS_URL, QUEUE_PREFIX, BASELINE_SITE_ID, BASELINE_ARTICLE_ID,
 *   DATABASE_POOL_MAX (default 20, Parley's default)
 */
import { serve } from '@hono/node-server';
import { Queue } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from '../db/schema';
import { uuidv7 } from '../src/lib/ids';

const env = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) {
    console.error(`baseline-server: ${name} is required`);
    process.exit(2);
  }
  return v;
};

const port = Number(env('BASELINE_PORT', '3999'));
const siteId = env('BASELINE_SITE_ID');
const articleId = env('BASELINE_ARTICLE_ID');
// The drivers as shipped, not Parley's createDb: since round 18 that patches each pooled client
// (answerThroughCallback in db/database.ts), an optimisation of Parley's own that the obvious
// implementation would not have. Same pool size as Parley's default.
const db = new Kysely<Database>({
  dialect: new PostgresDialect({
    pool: new pg.Pool({ connectionString: env('DATABASE_URL'), max: Number(env('DATABASE_POOL_MAX', '20')) }),
  }),
});
const redis = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: 1, enableOfflineQueue: false });
const queue = new Queue('moderate', { connection: redis, prefix: env('QUEUE_PREFIX') });

const app = new Hono();
app.post('/api/v1/sites/:siteId/articles/:articleId/comments', async (c) => {
  const input = (await c.req.json()) as { authorName?: string; body?: string };
  const id = uuidv7();
  const now = new Date();
  await db
    .insertInto('comments')
    .values({
      id,
      site_id: siteId,
      article_id: articleId,
      author_name: String(input.authorName ?? ''),
      body: String(input.body ?? ''),
      status: 'pending',
      signals: '{}',
      parent_id: null,
      root_id: null,
      author_email: null,
      email_hash: null,
      ip_hash: null,
      user_agent: null,
      referrer: null,
      idempotency_key: null,
      request_id: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await queue.add('moderate', { commentId: id }, { jobId: `mod-${id}`, removeOnComplete: true });
  return c.json({ id, status: 'pending' }, 202);
});
app.get('/healthz', (c) => c.json({ ok: true }));

const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
const stop = async () => {
  server.close();
  await queue.close().catch(() => {});
  redis.disconnect();
  await db.destroy();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
