/** Moves outbox rows onto BullMQ: eagerly after a commit, and by the relay for anything left behind. */
import type { Kysely } from 'kysely';
import type { Database, OutboxRow } from '../../db/schema';
import type { Queues } from '../queue';
import { deleteBatches, lockDueBatches, lockUnpublished, markPublished } from '../repositories/outbox';
import { type JobSpec, jobsForRows } from './outbox-routes';

/**
 * Adds the rows' jobs (grouped per queue, one round trip each). Throws if Redis refuses.
 *
 * A queue's only job goes in by `add`, one script call, rather than `addBulk`, which wraps even one
 * job in an ioredis pipeline. That is the common case: an ingest batch or a decision write becomes
 * one moderate job, and a site without webhook endpoints gets no fan-out job. Pipelines kept the
 * objects of the batch they carried alive past young-generation collections (docs/performance.md,
 * round 18).
 */
export async function enqueueRows(queues: Queues, rows: OutboxRow[]): Promise<void> {
  const byQueue = new Map<string, JobSpec[]>();
  for (const job of jobsForRows(rows)) {
    const list = byQueue.get(job.queue) ?? [];
    list.push(job);
    byQueue.set(job.queue, list);
  }
  await Promise.all(
    [...byQueue].map(([name, jobs]) => {
      const queue = queues.byName(name as never);
      const [only] = jobs;
      if (jobs.length === 1 && only) return queue.add(only.name, only.data, { jobId: only.jobId });
      return queue.addBulk(jobs.map((j) => ({ name: j.name, data: j.data, opts: { jobId: j.jobId } })));
    }),
  );
}

/**
 * Publishes rows just committed by this process. Failure is fine: the rows stay unpublished and
 * the relay picks them up, so nothing committed is ever lost.
 */
export async function publishNow(db: Kysely<Database>, queues: Queues, rows: OutboxRow[]): Promise<boolean> {
  if (!rows.length) return true;
  try {
    await enqueueRows(queues, rows);
    await markPublished(
      db,
      rows.map((r) => r.id),
    );
    return true;
  } catch {
    return false;
  }
}

/**
 * One relay pass: locks unpublished rows older than `graceMs` (younger ones are being published
 * eagerly by whoever wrote them), enqueues them and marks them published in the same transaction;
 * then the same for publication batches (at most `limit / 10` of them). Returns how many rows it
 * enqueued, or at least `limit` if either page was full.
 */
export async function relayOnce(
  db: Kysely<Database>,
  queues: Queues,
  opts: { graceMs: number; limit: number; now?: Date },
): Promise<number> {
  const now = opts.now ?? new Date();
  const olderThan = new Date(now.getTime() - opts.graceMs);
  const single = await db.transaction().execute(async (trx) => {
    const rows = await lockUnpublished(trx, olderThan, opts.limit);
    if (!rows.length) return 0;
    await enqueueRows(queues, rows);
    await markPublished(
      trx,
      rows.map((r) => r.id),
    );
    return rows.length;
  });
  const batched = await db.transaction().execute(async (trx) => {
    const { batchIds, rows } = await lockDueBatches(trx, olderThan, Math.max(1, Math.floor(opts.limit / 10)));
    if (!batchIds.length) return 0;
    if (rows.length) await enqueueRows(queues, rows);
    await deleteBatches(trx, batchIds);
    // A full page of batches counts as a full page of rows, so the caller keeps draining.
    return batchIds.length * 10 >= opts.limit ? Math.max(rows.length, opts.limit) : rows.length;
  });
  return single + batched;
}
