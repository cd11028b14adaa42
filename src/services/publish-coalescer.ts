/**
 * Publishing after commit, shared by concurrent commits. Rows handed in while a publish is in
 * flight wait for it and then go together, as one addBulk per queue; marking rows published is a
 * second, independent group: one UPDATE at a time, covering every row enqueued since the last one.
 * So the next addBulk never waits for the previous UPDATE, and under load one UPDATE serves many
 * publishes; when idle a row goes out, and is marked, at once. A failure of either step leaves the
 * rows to the relay, exactly as publishNow alone does, so nothing committed is lost (a row
 * enqueued but not marked is enqueued again by the relay under the same job id).
 */
import type { Kysely } from 'kysely';
import type { Database, OutboxRow } from '../../db/schema';
import { createBatcher } from '../lib/batcher';
import type { Queues } from '../queue';
import { markPublished } from '../repositories/outbox';
import { enqueueRows } from './outbox-publisher';

export function createCoalescingPublisher(
  db: Kysely<Database>,
  queues: Queues,
  opts: { maxRows?: number; maxInFlight?: number } = {},
) {
  const enqueue = createBatcher<OutboxRow, boolean>(
    async (rows) => {
      const ok = await enqueueRows(queues, rows).then(
        () => true,
        () => false,
      );
      return rows.map(() => ok);
    },
    { maxBatch: opts.maxRows ?? 1000, maxInFlight: opts.maxInFlight ?? 2 },
  );
  const mark = createBatcher<string, boolean>(
    async (ids) => {
      const ok = await markPublished(db, ids).then(
        () => true,
        () => false,
      );
      return ids.map(() => ok);
    },
    { maxBatch: 5000, maxInFlight: 1 },
  );
  /** Fire and forget; resolves when the rows are on the queues and marked (true) or left to the relay (false). */
  return async (rows: OutboxRow[]): Promise<boolean> => {
    const all = (ps: Promise<boolean>[]) =>
      Promise.all(ps).then(
        (oks) => oks.every(Boolean),
        () => false,
      );
    if (!(await all(rows.map((r) => enqueue(r))))) return false;
    return all(rows.map((r) => mark(r.id)));
  };
}
