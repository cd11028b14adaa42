// Frozen: never edit a migration that has shipped; add a new dated one instead.
import { type Kysely, sql } from 'kysely';

/**
 * Readers may edit their own comment for a while after posting it (POST .../comments/{id}/edit).
 * The edited text is moderated again from scratch, so a comment can now have one automatic
 * decision per version of its text: `revision` counts the edits (0 is the text as first posted),
 * and the one-system-decision guarantee becomes one per comment and revision. The texts an edit
 * replaced are kept for moderators in comment_revisions, deleted with the comment's text when its
 * author deletes it or asks for erasure.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('comments')
    .addColumn('edited_at', 'timestamptz')
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable('moderation_decisions')
    .addColumn('revision', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('decisions_one_system_per_revision_uq')
    .on('moderation_decisions')
    .columns(['comment_id', 'revision'])
    .unique()
    .where(sql<boolean>`actor_type = 'system'`)
    .execute();
  await db.schema.dropIndex('decisions_one_system_uq').execute();

  // An edit is refused once anyone replied, which is one probe here instead of a scan of the site's
  // comments (the thread indexes cover published and deleted replies only, not pending ones).
  await db.schema
    .createIndex('comments_parent_idx')
    .on('comments')
    .column('parent_id')
    .where(sql.ref('parent_id'), 'is not', null)
    .execute();

  await db.schema
    .createTable('comment_revisions')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('comment_id', 'uuid', (c) => c.notNull().references('comments.id').onDelete('cascade'))
    .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id').onDelete('cascade'))
    // The version this text was (0: as first posted), so the list reads in order.
    .addColumn('revision', 'integer', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    // When this text was written (the comment's created_at, or the edit before) and replaced.
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('replaced_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('comment_revisions_comment_revision_uq', ['comment_id', 'revision'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('comment_revisions').ifExists().execute();
  await db.schema.dropIndex('comments_parent_idx').ifExists().execute();
  // Rows decided more than once cannot satisfy the old index: the audit is append-only, so the
  // down migration refuses rather than drop history.
  await db.schema
    .createIndex('decisions_one_system_uq')
    .on('moderation_decisions')
    .column('comment_id')
    .unique()
    .where(sql<boolean>`actor_type = 'system'`)
    .execute();
  await db.schema.dropIndex('decisions_one_system_per_revision_uq').ifExists().execute();
  await db.schema.alterTable('moderation_decisions').dropColumn('revision').execute();
  await db.schema.alterTable('comments').dropColumn('edited_at').dropColumn('revision').execute();
}
