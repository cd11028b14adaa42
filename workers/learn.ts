/**
 * The `learn` job: one moderator decision updates its site's adaptive model. Concurrent jobs are
 * applied together (one transaction per batch, each site's row locked with SELECT ... FOR UPDATE),
 * and each outbox row is applied at most once however often its job runs.
 */
import { type Job, Worker } from 'bullmq';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema';
import { createBatcher } from '../src/lib/batcher';
import { type LearnJob, QUEUE, type Queues, type RedisClient } from '../src/queue';
import { applyLabels, bodiesFor } from '../src/repositories/adaptive';
import type { AdaptiveCache } from './moderation-context';

export interface LearnDeps {
  db: Kysely<Database>;
  adaptive?: AdaptiveCache;
  maxBatch?: number;
}

export type LearnResult = { state: 'applied' } | { state: 'skipped'; reason: 'already_applied' };

export function createLearnProcessor(deps: LearnDeps) {
  const apply = createBatcher<LearnJob, boolean>(
    async (jobs) => {
      const bodies = await bodiesFor(deps.db, [...new Set(jobs.map((j) => j.commentId))]);
      const applied = await deps.db.transaction().execute((trx) =>
        applyLabels(
          trx,
          jobs.map((j) => ({
            outboxId: j.outboxId,
            siteId: j.siteId,
            commentId: j.commentId,
            label: j.label,
            text: bodies.get(j.commentId) ?? null,
          })),
        ),
      );
      // This process's moderate worker sees the new model at once; others within their cache TTL.
      for (const site of new Set(jobs.map((j) => j.siteId))) deps.adaptive?.invalidate(site);
      return jobs.map((j) => applied.has(j.outboxId));
    },
    { maxBatch: deps.maxBatch ?? 200, maxInFlight: 1 },
  );

  return async function learn(job: Pick<Job<LearnJob>, 'data'>): Promise<LearnResult> {
    const d = job.data;
    if (!/^\d+$/.test(String(d.outboxId)) || !d.siteId || !d.commentId) {
      throw new Error('learn job without outboxId, siteId or commentId');
    }
    return (await apply({ ...d, outboxId: String(d.outboxId) }))
      ? { state: 'applied' }
      : { state: 'skipped', reason: 'already_applied' };
  };
}

export function startLearnWorker(
  deps: LearnDeps & { queues: Queues; connection: RedisClient; logger: Logger; concurrency?: number },
): Worker<LearnJob> {
  const process = createLearnProcessor(deps);
  const worker = new Worker<LearnJob>(QUEUE.learn, (job) => process(job), {
    connection: deps.connection,
    prefix: deps.queues.prefix,
    // Several jobs in flight so the batcher can group them; one batch at a time per process.
    concurrency: deps.concurrency ?? 32,
  });
  worker.on('error', (err) => deps.logger.warn({ err }, 'learn worker error'));
  worker.on('failed', (job, err) => deps.logger.warn({ err, jobId: job?.id }, 'learn job failed'));
  return worker;
}
