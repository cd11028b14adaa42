/** The typed database: one interface per feature area, joined here. */
import type { Kysely, Transaction } from 'kysely';
import type { CoreTables } from './schema/core';
import type { EditsTables } from './schema/edits';
import type { ModerationTables } from './schema/moderation';
import type { OutboxBatchesTables } from './schema/outbox-batches';
import type { WebhooksTables } from './schema/webhooks';
import type { WorkspaceTables } from './schema/workspace';

export interface Database
  extends CoreTables,
    ModerationTables,
    WorkspaceTables,
    WebhooksTables,
    EditsTables,
    OutboxBatchesTables {}

/** Repositories accept either the pool or a transaction. */
export type Db = Kysely<Database> | Transaction<Database>;

export * from './schema/core';
