// Frozen: never edit a migration that has shipped; add a new dated one instead.
import { type Kysely, sql } from 'kysely';

const BANDS = [0, 1, 2, 3] as const;

export async function up(db: Kysely<any>): Promise<void> {
  // Near-duplicate lookup (src/moderation/simhash.ts): the 64-bit SimHash as a signed bigint and its
  // four 16-bit bands. Two fingerprints within 3 bits share at least one band, so a lookup is four
  // index probes on (site, band) instead of a scan. Short bodies have no fingerprint (null).
  await db.schema
    .alterTable('comments')
    .addColumn('simhash', 'bigint')
    .addColumn('simhash_b0', 'integer')
    .addColumn('simhash_b1', 'integer')
    .addColumn('simhash_b2', 'integer')
    .addColumn('simhash_b3', 'integer')
    .execute();
  for (const b of BANDS) {
    await db.schema
      .createIndex(`comments_simhash_b${b}_idx`)
      .on('comments')
      .columns(['site_id', `simhash_b${b}`, 'created_at'])
      .where(sql.ref('simhash'), 'is not', null)
      .execute();
  }

  // Each site's adaptive correction to the shipped classifier, learned from its moderators
  // (src/moderation/adaptive.ts). One row per site, updated under a row lock.
  await db.schema
    .createTable('adaptive_models')
    .addColumn('site_id', 'text', (c) => c.primaryKey().references('sites.id').onDelete('cascade'))
    .addColumn('state', 'jsonb', (c) => c.notNull())
    .addColumn('updates', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_outbox_id', 'bigint')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // Every label the model learned, keyed by the outbox row that announced the decision: a row
  // relayed or retried twice is applied once, and the model can be rebuilt from these rows.
  await db.schema
    .createTable('adaptive_labels')
    .addColumn('outbox_id', 'bigint', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id').onDelete('cascade'))
    .addColumn('comment_id', 'uuid')
    .addColumn('label', 'text', (c) => c.notNull().check(sql`label in ('ok', 'spam', 'toxic')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('adaptive_labels_site_idx')
    .on('adaptive_labels')
    .columns(['site_id', 'outbox_id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('adaptive_labels').ifExists().execute();
  await db.schema.dropTable('adaptive_models').ifExists().execute();
  for (const b of BANDS) await db.schema.dropIndex(`comments_simhash_b${b}_idx`).ifExists().execute();
  await db.schema
    .alterTable('comments')
    .dropColumn('simhash')
    .dropColumn('simhash_b0')
    .dropColumn('simhash_b1')
    .dropColumn('simhash_b2')
    .dropColumn('simhash_b3')
    .execute();
}
