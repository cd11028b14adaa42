/**
 * Publishing after commit, shared by concurrent commits: rows handed in while a publish is in
 * flight wait for it and then go together, as one addBulk per queue and one markPublished. Under
 * load this turns one Redis round trip and one UPDATE per ingest batch (or per worker write batch)
 * into one per few batches; when idle a row goes out at once. A failure leaves the rows to the
 * relay, exactly as publishNow alone does, so nothing committed is lost.
 */
import type { Kysely } from 'kysely';
import type { Database, OutboxRow } from '../../db/schema';
import { createBatcher } from '../lib/batcher';
import type { Queues } from '../queue';
import { publishNow } from './outbox-publisher';

export function createCoalescingPublisher(
  db: Kysely<Database>,
  queues: Queues,
  opts: { maxRows?: number; maxInFlight?: number } = {},
) {
  const publish = createBatcher<OutboxRow, boolean>(
    async (rows) => {
      const ok = await publishNow(db, queues, rows);
      return rows.map(() => ok);
    },
    { maxBatch: opts.maxRows ?? 1000, maxInFlight: opts.maxInFlight ?? 2 },
  );
  /** Fire and forget; resolves when the rows are on the queues (true) or left to the relay (false). */
  return (rows: OutboxRow[]): Promise<boolean> =>
    Promise.all(rows.map((r) => publish(r))).then(
      (oks) => oks.every(Boolean),
      () => false,
    );
}
