// Frozen: never edit a migration that has shipped; add a new dated one instead.
import { type Kysely, sql } from 'kysely';

/**
 * Readers may delete their own comments (POST .../comments/{id}/withdraw), so the audit gains a
 * third kind of actor, 'author', beside the pipeline and the moderators. A deleted comment that
 * other readers answered stays in the thread as a tombstone, so the thread indexes cover deleted
 * rows as well as published ones (each replaces the published-only index it widens: a query for
 * published rows alone can still use it).
 */
const dropActorCheck = sql`alter table moderation_decisions drop constraint moderation_decisions_actor_type_check`;

export async function up(db: Kysely<any>): Promise<void> {
  await dropActorCheck.execute(db);
  await sql`alter table moderation_decisions add constraint moderation_decisions_actor_type_check
    check (actor_type in ('system', 'moderator', 'author'))`.execute(db);

  // The history lists what people did: moderators' decisions and authors' own deletions.
  await db.schema
    .createIndex('decisions_site_people_idx')
    .on('moderation_decisions')
    .columns(['site_id', 'id'])
    .where(sql<boolean>`actor_type in ('moderator', 'author')`)
    .execute();
  await db.schema.dropIndex('decisions_site_actor_idx').execute();

  await db.schema
    .createIndex('comments_thread_roots_shown_idx')
    .on('comments')
    .columns(['article_id', 'created_at', 'id'])
    .where(sql<boolean>`status in ('published', 'deleted') and parent_id is null`)
    .execute();
  await db.schema.dropIndex('comments_thread_roots_idx').execute();
  await db.schema
    .createIndex('comments_thread_replies_shown_idx')
    .on('comments')
    .columns(['root_id', 'created_at'])
    .where(sql<boolean>`status in ('published', 'deleted') and root_id is not null`)
    .execute();
  await db.schema.dropIndex('comments_thread_replies_idx').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('comments_thread_replies_idx')
    .on('comments')
    .columns(['root_id', 'created_at'])
    .where(sql<boolean>`status = 'published' and root_id is not null`)
    .execute();
  await db.schema.dropIndex('comments_thread_replies_shown_idx').ifExists().execute();
  await db.schema
    .createIndex('comments_thread_roots_idx')
    .on('comments')
    .columns(['article_id', 'created_at', 'id'])
    .where(sql<boolean>`status = 'published' and parent_id is null`)
    .execute();
  await db.schema.dropIndex('comments_thread_roots_shown_idx').ifExists().execute();
  await db.schema
    .createIndex('decisions_site_actor_idx')
    .on('moderation_decisions')
    .columns(['site_id', 'id'])
    .where(sql<boolean>`actor_type = 'moderator'`)
    .execute();
  await db.schema.dropIndex('decisions_site_people_idx').ifExists().execute();
  await dropActorCheck.execute(db);
  // The audit is append-only, so authors' rows cannot be removed: the old rule binds new rows only.
  await sql`alter table moderation_decisions add constraint moderation_decisions_actor_type_check
    check (actor_type in ('system', 'moderator')) not valid`.execute(db);
}
