/** The transactional outbox: rows written with the change they announce, relayed to the queues. */
import { sql } from 'kysely';
import type { Db, OutboxRow } from '../../db/schema';

export interface NewOutboxEvent {
  topic: string;
  siteId: string;
  commentId?: string | null;
  payload?: Record<string, unknown>;
  requestId?: string | null;
}

export async function insertOutbox(db: Db, events: NewOutboxEvent[]): Promise<OutboxRow[]> {
  if (!events.length) return [];
  return db
    .insertInto('outbox')
    .values(
      events.map((e) => ({
        topic: e.topic,
        site_id: e.siteId,
        comment_id: e.commentId ?? null,
        payload: JSON.stringify(e.payload ?? {}),
        request_id: e.requestId ?? null,
      })),
    )
    .returningAll()
    .execute();
}

/**
 * An outbox row as the batched writers return it: with the publication batch that tracks it, and
 * whether its site had any webhook endpoint when the statement ran (`fanout`; see fanoutJobsFor).
 */
export type AnnouncedRow = OutboxRow & { batch_id: string | null; fanout: boolean };

/**
 * The end of a statement whose CTE `ob` inserted outbox rows with `batched = true` (returning *):
 * one outbox_batches row lists them, in the same statement and so the same transaction, and they
 * come back in id order with that batch's id. Deleting the batch row, once their jobs are on the
 * queues, takes the place of an UPDATE per row. Each row also says whether its site has any
 * webhook endpoint, read in the statement's own snapshot, so sites without one need no fan-out job.
 */
export const asPublicationBatch = sql`
  batch as (
    insert into outbox_batches (outbox_ids)
    select array_agg(id order by id) from ob having count(*) > 0
    returning id
  )
  select ob.*, (select id from batch) as batch_id,
         exists (select 1 from webhook_endpoints e where e.site_id = ob.site_id) as fanout
  from ob order by ob.id`;

/**
 * A CTE, with its trailing comma, deleting publication batches whose rows are on the queues, for a
 * writer's statement to carry in passing (see CoalescingPublisher.carryingMarks); empty for none.
 */
export function deletingBatches(ids: readonly string[]) {
  return ids.length ? sql`gone as (delete from outbox_batches where id = any(${ids}::bigint[])),` : sql``;
}

/**
 * Locks a batch of unpublished rows older than `olderThan`; SKIP LOCKED lets several relays (one per
 * worker replica) share the work without waiting on each other. Call inside a transaction.
 */
export async function lockUnpublished(db: Db, olderThan: Date, limit: number): Promise<OutboxRow[]> {
  // `not batched` as written, so the planner can use the partial index (a bound `false` would not).
  return db
    .selectFrom('outbox')
    .selectAll()
    .where('published_at', 'is', null)
    .where(sql<boolean>`not batched`)
    .where('created_at', '<', olderThan)
    .orderBy('id')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function markPublished(db: Db, ids: string[]): Promise<void> {
  if (!ids.length) return;
  // One array parameter: the statement text is the same whatever the number of rows.
  await db
    .updateTable('outbox')
    .set({ published_at: sql`now()` })
    .where('id', '=', sql<string>`any(${ids}::bigint[])`)
    .where('published_at', 'is', null)
    .execute();
}

export async function outboxLag(db: Db): Promise<{ unpublished: number; oldestSeconds: number }> {
  const r = await sql<{ n: string; age: string | null }>`
    select sum(n)::text as n, extract(epoch from now() - min(oldest))::text as age from (
      select count(*) as n, min(created_at) as oldest from outbox where published_at is null and not batched
      union all
      select coalesce(sum(cardinality(outbox_ids)), 0), min(created_at) from outbox_batches
    ) parts`.execute(db);
  const row = r.rows[0];
  return { unpublished: Number(row?.n ?? 0), oldestSeconds: Number(row?.age ?? 0) };
}

/**
 * Locks publication batches written before `olderThan` (younger ones are being published by
 * whoever wrote them) and reads their rows in id order. Call inside a transaction; SKIP LOCKED lets
 * several relays share the work.
 */
export async function lockDueBatches(
  db: Db,
  olderThan: Date,
  limit: number,
): Promise<{ batchIds: string[]; rows: OutboxRow[] }> {
  const batches = await db
    .selectFrom('outbox_batches')
    .select(['id', 'outbox_ids'])
    .where('created_at', '<', olderThan)
    .orderBy('id')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  if (!batches.length) return { batchIds: [], rows: [] };
  const rows = await db
    .selectFrom('outbox')
    .selectAll()
    .where('id', '=', sql<string>`any(${batches.flatMap((b) => b.outbox_ids)}::bigint[])`)
    .orderBy('id')
    .execute();
  return { batchIds: batches.map((b) => b.id), rows };
}

/** Their rows' jobs are on the queues. */
export async function deleteBatches(db: Db, ids: readonly string[]): Promise<void> {
  if (!ids.length) return;
  await db.deleteFrom('outbox_batches').where('id', '=', sql<string>`any(${ids}::bigint[])`).execute();
}
