// Frozen: never edit a migration that has shipped; add a new dated one instead.
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id').onDelete('cascade'))
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    // Empty means every event type, including ones added later.
    .addColumn('event_types', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('disabled_reason', 'text')
    .addColumn('disabled_at', 'timestamptz')
    // Set by the first failed attempt after a success; an endpoint failing for 5 days is disabled.
    .addColumn('failing_since', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('webhook_endpoints_site_idx')
    .on('webhook_endpoints')
    .column('site_id')
    .execute();

  // Several secrets per endpoint: during a rotation the old one keeps signing until expires_at.
  await db.schema
    .createTable('webhook_secrets')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('endpoint_id', 'text', (c) =>
      c.notNull().references('webhook_endpoints.id').onDelete('cascade'),
    )
    // AES-256-GCM under a key derived from PARLEY_SECRET: a database dump alone cannot forge deliveries.
    .addColumn('secret_enc', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('webhook_secrets_endpoint_idx')
    .on('webhook_secrets')
    .column('endpoint_id')
    .execute();

  await db.schema
    .createTable('webhook_messages')
    // msg_...: the webhook-id header, the same on every attempt and on a manual redelivery.
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('seq', 'bigint', (c) => c.notNull().generatedAlwaysAsIdentity())
    .addColumn('site_id', 'text', (c) => c.notNull())
    .addColumn('endpoint_id', 'text', (c) =>
      c.notNull().references('webhook_endpoints.id').onDelete('cascade'),
    )
    .addColumn('outbox_id', 'bigint')
    .addColumn('comment_id', 'uuid')
    .addColumn('event_type', 'text', (c) => c.notNull())
    // The queue prefix of the deployment that created it: only that deployment's workers deliver
    // it (one per database in production; test runs share a database, each with its own prefix).
    .addColumn('shard', 'text', (c) => c.notNull().defaultTo(''))
    // The exact JSON body sent, fixed at fan-out so every attempt sends the same bytes.
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('pending', 'succeeded', 'failed')`))
    // tries drives the retry schedule (reset by a manual redelivery); attempts numbers the log.
    .addColumn('tries', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz')
    .addColumn('lease_token', 'text')
    .addColumn('lease_until', 'timestamptz')
    .addColumn('last_status_code', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // Fanning the same outbox row out twice creates no second message.
    .addUniqueConstraint('webhook_messages_endpoint_outbox_uq', ['endpoint_id', 'outbox_id'])
    .execute();
  // The dispatcher walks each endpoint's due messages in order, and counts its leased ones.
  await db.schema
    .createIndex('webhook_messages_due_idx')
    .on('webhook_messages')
    .columns(['endpoint_id', 'next_attempt_at', 'seq'])
    .where(sql<boolean>`status = 'pending'`)
    .execute();
  await db.schema
    .createIndex('webhook_messages_leased_idx')
    .on('webhook_messages')
    .column('endpoint_id')
    .where(sql<boolean>`status = 'pending' and lease_until is not null`)
    .execute();
  await db.schema
    .createIndex('webhook_messages_endpoint_idx')
    .on('webhook_messages')
    .columns(['endpoint_id', 'created_at'])
    .execute();
  await db.schema
    .createIndex('webhook_messages_comment_idx')
    .on('webhook_messages')
    .columns(['endpoint_id', 'comment_id', 'seq'])
    .where(sql<boolean>`status = 'pending' and comment_id is not null`)
    .execute();

  // The fan-out of a comment's event first fans out any earlier event of the same comment still
  // waiting, so per-comment order never depends on which fan-out job ran first.
  await db.schema
    .createIndex('outbox_comment_idx')
    .ifNotExists()
    .on('outbox')
    .columns(['comment_id', 'id'])
    .where(sql.ref('comment_id'), 'is not', null)
    .execute();

  await db.schema
    .createTable('webhook_attempts')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('message_id', 'text', (c) => c.notNull().references('webhook_messages.id').onDelete('cascade'))
    .addColumn('endpoint_id', 'text', (c) => c.notNull())
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('trigger', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('response_body', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('webhook_attempts_message_idx')
    .on('webhook_attempts')
    .columns(['message_id', 'id'])
    .execute();
  await db.schema
    .createIndex('webhook_attempts_endpoint_idx')
    .on('webhook_attempts')
    .columns(['endpoint_id', 'id'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('outbox_comment_idx').ifExists().execute();
  for (const t of ['webhook_attempts', 'webhook_messages', 'webhook_secrets', 'webhook_endpoints']) {
    await db.schema.dropTable(t).ifExists().cascade().execute();
  }
}
