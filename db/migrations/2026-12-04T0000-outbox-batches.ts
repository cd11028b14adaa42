// Frozen: never edit a migration that has shipped; add a new dated one instead.
import { type Kysely, sql } from 'kysely';

/**
 * Publication tracked per batch on the two busy writers (ingest and the moderate worker). Marking
 * each outbox row published after its jobs were added was an UPDATE per row: a new row version,
 * its index entries and their WAL, about a quarter of Postgres's CPU per submission. Rows written
 * by one of those statements are now `batched`, and one `outbox_batches` row, written in the same
 * statement, lists them; deleting that one row says they are all on the queues, and the relay
 * enqueues the rows of any batch row older than its grace. Rows written one at a time elsewhere
 * keep `published_at`. Batched rows never enter the unpublished index.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('outbox')
    .addColumn('batched', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db.schema
    .createTable('outbox_batches')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('outbox_ids', sql`bigint[]`, (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('outbox_unpublished_single_idx')
    .on('outbox')
    .column('id')
    .where(sql<boolean>`published_at is null and not batched`)
    .execute();
  await db.schema.dropIndex('outbox_unpublished_idx').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  // Rows of batches still waiting go back to per-row tracking, so the old relay finds them.
  await sql`update outbox set published_at = null, batched = false
            where id in (select unnest(outbox_ids) from outbox_batches)`.execute(db);
  await sql`update outbox set published_at = created_at where batched`.execute(db);
  await db.schema
    .createIndex('outbox_unpublished_idx')
    .on('outbox')
    .column('id')
    .where(sql<boolean>`published_at is null`)
    .execute();
  await db.schema.dropIndex('outbox_unpublished_single_idx').execute();
  await db.schema.dropTable('outbox_batches').execute();
  await db.schema.alterTable('outbox').dropColumn('batched').execute();
}
