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
 * Locks a batch of unpublished rows older than `olderThan`; SKIP LOCKED lets several relays (one per
 * worker replica) share the work without waiting on each other. Call inside a transaction.
 */
export async function lockUnpublished(db: Db, olderThan: Date, limit: number): Promise<OutboxRow[]> {
  return db
    .selectFrom('outbox')
    .selectAll()
    .where('published_at', 'is', null)
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
  const r = await db
    .selectFrom('outbox')
    .select([
      (eb) => eb.fn.countAll<string>().as('n'),
      sql<string | null>`extract(epoch from now() - min(created_at))`.as('age'),
    ])
    .where('published_at', 'is', null)
    .executeTakeFirstOrThrow();
  return { unpublished: Number(r.n), oldestSeconds: Number(r.age ?? 0) };
}
