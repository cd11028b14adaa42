// Frozen: never edit a migration that has shipped; add a new dated one instead.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sites')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('allowed_origins', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('policy', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('policy_version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // Every policy a site has had, so each decision can name the exact rules it was made under.
  await db.schema
    .createTable('policy_versions')
    .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('policy', 'jsonb', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('policy_versions_pk', ['site_id', 'version'])
    .execute();

  await db.schema
    .createTable('articles')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id').onDelete('cascade'))
    .addColumn('external_id', 'text', (c) => c.notNull())
    .addColumn('url', 'text')
    .addColumn('title', 'text')
    .addColumn('closed', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('published_count', 'integer', (c) => c.notNull().defaultTo(0))
    // Bumped whenever the published thread changes: a cheap validator for ETags and caches.
    .addColumn('thread_version', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('articles_site_external_uq', ['site_id', 'external_id'])
    .execute();

  await db.schema
    .createTable('comments')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id').onDelete('cascade'))
    .addColumn('article_id', 'uuid', (c) => c.notNull().references('articles.id').onDelete('cascade'))
    .addColumn('parent_id', 'uuid', (c) => c.references('comments.id'))
    .addColumn('root_id', 'uuid')
    .addColumn('author_name', 'text', (c) => c.notNull())
    .addColumn('author_email', 'text')
    .addColumn('email_hash', 'text')
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'published', 'held', 'rejected', 'deleted')`),
    )
    .addColumn('ip_hash', 'text')
    .addColumn('user_agent', 'text')
    .addColumn('referrer', 'text')
    .addColumn('signals', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('idempotency_key', 'text')
    .addColumn('request_id', 'text')
    .addColumn('report_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('decided_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createIndex('comments_idempotency_uq')
    .on('comments')
    .columns(['site_id', 'idempotency_key'])
    .unique()
    .where(sql.ref('idempotency_key'), 'is not', null)
    .execute();
  await db.schema
    .createIndex('comments_thread_roots_idx')
    .on('comments')
    .columns(['article_id', 'created_at', 'id'])
    .where(sql<boolean>`status = 'published' and parent_id is null`)
    .execute();
  await db.schema
    .createIndex('comments_thread_replies_idx')
    .on('comments')
    .columns(['root_id', 'created_at'])
    .where(sql<boolean>`status = 'published' and root_id is not null`)
    .execute();
  await db.schema
    .createIndex('comments_pending_idx')
    .on('comments')
    .column('created_at')
    .where(sql<boolean>`status = 'pending'`)
    .execute();
  await db.schema
    .createIndex('comments_site_status_idx')
    .on('comments')
    .columns(['site_id', 'status', 'created_at'])
    .execute();
  await db.schema
    .createIndex('comments_email_hash_idx')
    .on('comments')
    .columns(['site_id', 'email_hash'])
    .execute();
  await db.schema
    .createIndex('comments_ip_hash_idx')
    .on('comments')
    .columns(['site_id', 'ip_hash'])
    .execute();

  await db.schema
    .createTable('moderation_decisions')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('comment_id', 'uuid', (c) => c.notNull().references('comments.id'))
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('actor_type', 'text', (c) => c.notNull().check(sql`actor_type in ('system', 'moderator')`))
    .addColumn('actor_id', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('from_status', 'text', (c) => c.notNull())
    .addColumn('to_status', 'text', (c) => c.notNull())
    .addColumn('reason_code', 'text')
    .addColumn('reasons', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('scores', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('policy_version', 'integer')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('decisions_comment_idx')
    .on('moderation_decisions')
    .column('comment_id')
    .execute();
  await db.schema
    .createIndex('decisions_site_created_idx')
    .on('moderation_decisions')
    .columns(['site_id', 'created_at'])
    .execute();
  // The automatic pipeline decides a comment once, however often its job runs: the database
  // enforces it, not just the worker's compare-and-set.
  await db.schema
    .createIndex('decisions_one_system_uq')
    .on('moderation_decisions')
    .column('comment_id')
    .unique()
    .where(sql<boolean>`actor_type = 'system'`)
    .execute();
  // Append-only audit: rows may be added, never changed.
  await sql`
    create function parley_forbid_update() returns trigger language plpgsql as $$
    begin
      raise exception 'moderation_decisions is append-only';
    end $$`.execute(db);
  await sql`
    create trigger moderation_decisions_append_only before update on moderation_decisions
    for each row execute function parley_forbid_update()`.execute(db);

  // Transactional outbox: written in the same transaction as the change it announces.
  await db.schema
    .createTable('outbox')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('topic', 'text', (c) => c.notNull())
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('comment_id', 'uuid')
    .addColumn('payload', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('request_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('published_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('outbox_unpublished_idx')
    .on('outbox')
    .column('id')
    .where(sql<boolean>`published_at is null`)
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('admin', 'moderator')`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    'api_tokens',
    'outbox',
    'moderation_decisions',
    'comments',
    'articles',
    'policy_versions',
    'sites',
  ]) {
    await db.schema.dropTable(t).ifExists().cascade().execute();
  }
  await sql`drop function if exists parley_forbid_update() cascade`.execute(db);
}
