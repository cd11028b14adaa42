/**
 * Publishing after commit, shared by concurrent commits. Rows handed in while a publish is in
 * flight wait for it and then go together, one call per queue (see enqueueRows). Then they are
 * marked:
 * - rows tracked one by one: one UPDATE at a time, covering every row enqueued since the last
 *   one, so the next add never waits for the previous UPDATE;
 * - rows of a publication batch (see asPublicationBatch): their one batch row is deleted, and by
 *   the writer's next statement where it can (`carryingMarks`), not by a statement of its own. Under
 *   load that statement comes within milliseconds; a DELETE of its own cost a commit per publish,
 *   a fifth of Postgres's CPU per submission. When none comes within `markDelayMs`, the publisher
 *   deletes them itself.
 * A failure of either step leaves the rows to the relay, exactly as publishNow alone does, so
 * nothing committed is lost (a row enqueued but not marked is enqueued again by the relay under
 * the same job id).
 */
import type { Kysely } from 'kysely';
import type { Database, OutboxRow } from '../../db/schema';
import { createBatcher } from '../lib/batcher';
import type { Queues } from '../queue';
import { deleteBatches, markPublished } from '../repositories/outbox';
import { enqueueRows } from './outbox-publisher';

type Settle = (ok: boolean) => void;

export interface CoalescingPublisher {
  /** Fire and forget; resolves when the rows are on the queues and marked (true) or left to the relay (false). */
  (rows: Array<OutboxRow & { batch_id?: string | null }>): Promise<boolean>;
  /**
   * Runs the writer's next statement with the batch rows waiting to be deleted, for it to delete
   * in passing; if the statement fails they wait for the next one.
   */
  carryingMarks<T>(statement: (deleting: readonly string[]) => Promise<T>): Promise<T>;
}

export function createCoalescingPublisher(
  db: Kysely<Database>,
  queues: Queues,
  opts: { maxRows?: number; maxInFlight?: number; markDelayMs?: number } = {},
): CoalescingPublisher {
  const markDelayMs = opts.markDelayMs ?? 50;
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
  const markRows = createBatcher<string, boolean>(
    async (ids) => {
      const ok = await markPublished(db, ids).then(
        () => true,
        () => false,
      );
      return ids.map(() => ok);
    },
    { maxBatch: 5000, maxInFlight: 1 },
  );

  // Enqueued batches whose row is not deleted yet, each with the publishes waiting on it.
  let done = new Map<string, Settle[]>();
  let timer: NodeJS.Timeout | null = null;
  const take = () => {
    const taken = done;
    done = new Map();
    if (timer) clearTimeout(timer);
    timer = null;
    return taken;
  };
  const settleAll = (taken: Map<string, Settle[]>, ok: boolean) => {
    for (const waiters of taken.values()) for (const w of waiters) w(ok);
  };
  const arm = () => {
    if (timer || !done.size) return;
    timer = setTimeout(() => {
      timer = null;
      const taken = take();
      // On failure the relay enqueues their rows again after its grace, and deletes them.
      void deleteBatches(db, [...taken.keys()]).then(
        () => settleAll(taken, true),
        () => settleAll(taken, false),
      );
    }, markDelayMs);
    timer.unref?.();
  };
  const markBatch = (id: string) =>
    new Promise<boolean>((resolve) => {
      const waiters = done.get(id);
      if (waiters) waiters.push(resolve);
      else done.set(id, [resolve]);
      arm();
    });

  const publish = (async (rows) => {
    const all = (ps: Promise<boolean>[]) =>
      Promise.all(ps).then(
        (oks) => oks.every(Boolean),
        () => false,
      );
    if (!(await all(rows.map((r) => enqueue(r))))) return false;
    const batches = new Set<string>();
    const single: string[] = [];
    for (const r of rows) {
      if (r.batched && r.batch_id) batches.add(r.batch_id);
      else single.push(r.id);
    }
    return all([...[...batches].map(markBatch), ...single.map((id) => markRows(id))]);
  }) as CoalescingPublisher;

  publish.carryingMarks = async (statement) => {
    const taken = take();
    try {
      const result = await statement([...taken.keys()]);
      settleAll(taken, true);
      return result;
    } catch (err) {
      for (const [id, waiters] of taken) done.set(id, [...(done.get(id) ?? []), ...waiters]);
      arm();
      throw err;
    }
  };
  return publish;
}
