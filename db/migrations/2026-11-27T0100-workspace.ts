// Frozen: never edit a migration that has shipped; add a new dated one instead.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    // scrypt$N$r$p$salt$hash (see src/lib/passwords.ts)
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('disabled_at', 'timestamptz')
    .execute();

  // An admin may hold several sites; each membership is one role on one site.
  await db.schema
    .createTable('memberships')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id').onDelete('cascade'))
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('admin', 'moderator')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('memberships_pk', ['user_id', 'site_id'])
    .execute();
  await db.schema.createIndex('memberships_site_idx').on('memberships').column('site_id').execute();

  // The cookie carries a random token; only its hash is stored, so a database dump opens no session.
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('csrf_token', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();

  // Claims live on the comment itself: one row, one lease, taken with a compare-and-set.
  await db.schema
    .alterTable('comments')
    .addColumn('claimed_by', 'text')
    .addColumn('claim_expires_at', 'timestamptz')
    // Set when reader reports cross the site's threshold; cleared when a moderator reviews it.
    .addColumn('reported_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('comments_held_queue_idx')
    .on('comments')
    .columns(['site_id', 'created_at', 'id'])
    .where(sql<boolean>`status = 'held'`)
    .execute();
  await db.schema
    .createIndex('comments_reported_queue_idx')
    .on('comments')
    .columns(['site_id', 'reported_at', 'id'])
    .where(sql<boolean>`reported_at is not null`)
    .execute();
  await db.schema
    .createIndex('comments_site_decided_idx')
    .on('comments')
    .columns(['site_id', 'status', 'decided_at', 'id'])
    .execute();
  await db.schema
    .createIndex('decisions_site_actor_idx')
    .on('moderation_decisions')
    .columns(['site_id', 'id'])
    .where(sql<boolean>`actor_type = 'moderator'`)
    .execute();

  await db.schema
    .createTable('bans')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('email', 'ip')`))
    .addColumn('value_hash', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('source_comment_id', 'uuid')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('bans_lookup_idx')
    .on('bans')
    .columns(['site_id', 'kind', 'value_hash'])
    .execute();

  await db.schema
    .createTable('reports')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id').onDelete('cascade'))
    .addColumn('comment_id', 'uuid', (c) => c.notNull().references('comments.id').onDelete('cascade'))
    // HMAC of (IP hash, optional reader token): one report per reader per comment.
    .addColumn('reader_key', 'text', (c) => c.notNull())
    .addColumn('ip_hash', 'text')
    .addColumn('reason', 'text', (c) =>
      c.notNull().check(sql`reason in ('spam', 'abuse', 'off_topic', 'other')`),
    )
    .addColumn('note', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('reports_reader_uq', ['comment_id', 'reader_key'])
    .execute();
  await db.schema
    .createIndex('reports_site_created_idx')
    .on('reports')
    .columns(['site_id', 'created_at'])
    .execute();

  // Workspace settings per site (kept apart from the moderation policy, which the engine versions).
  await db.schema
    .createTable('site_settings')
    .addColumn('site_id', 'text', (c) => c.primaryKey().references('sites.id').onDelete('cascade'))
    .addColumn('report_threshold', 'integer', (c) => c.notNull().defaultTo(3))
    .addColumn('retention_days', 'integer', (c) => c.notNull().defaultTo(90))
    .addColumn('erase_mode', 'text', (c) =>
      c.notNull().defaultTo('anonymise').check(sql`erase_mode in ('anonymise', 'delete')`),
    )
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // A banned author's new comments are rejected by the database itself as they are inserted, so
  // no path (API, batch ingest, import) can skip the check. It records a system decision and an
  // outbox row exactly as the moderate worker would; the worker then sees a decided comment and
  // skips it. The lookup is one index probe per insert.
  await sql`
    create function parley_reject_banned() returns trigger language plpgsql as $$
    declare
      ban_id uuid;
    begin
      if new.status <> 'pending' then return null; end if;
      select b.id into ban_id from bans b
       where b.site_id = new.site_id and b.revoked_at is null
         and (b.expires_at is null or b.expires_at > now())
         and ((b.kind = 'email' and b.value_hash = new.email_hash)
           or (b.kind = 'ip' and b.value_hash = new.ip_hash))
       limit 1;
      if ban_id is null then return null; end if;
      update comments set status = 'rejected', decided_at = now(), updated_at = now() where id = new.id;
      insert into moderation_decisions (comment_id, site_id, actor_type, actor_id, action, from_status, to_status, reason_code, reasons)
      values (new.id, new.site_id, 'system', 'ban:' || ban_id, 'reject', 'pending', 'rejected', 'banned',
        jsonb_build_array(jsonb_build_object('rule', 'ban', 'category', 'ban', 'code', 'banned', 'score', 1,
          'message', 'The author is banned on this site')));
      insert into outbox (topic, site_id, comment_id, payload, request_id)
      values ('comment.rejected', new.site_id, new.id,
        jsonb_build_object('articleId', new.article_id, 'actor', 'system', 'reasonCode', 'banned',
          'reasons', jsonb_build_array(), 'policyVersion', null), new.request_id);
      return null;
    end $$`.execute(db);
  await sql`
    create trigger comments_reject_banned after insert on comments
    for each row execute function parley_reject_banned()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists comments_reject_banned on comments`.execute(db);
  await sql`drop function if exists parley_reject_banned()`.execute(db);
  for (const t of ['site_settings', 'reports', 'bans', 'sessions', 'memberships', 'users']) {
    await db.schema.dropTable(t).ifExists().cascade().execute();
  }
  await db.schema
    .alterTable('comments')
    .dropColumn('claimed_by')
    .dropColumn('claim_expires_at')
    .dropColumn('reported_at')
    .execute();
}
