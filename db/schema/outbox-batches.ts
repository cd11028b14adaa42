/** Row types for publication batches (migration 2026-12-04T0000-outbox-batches). */
import type { Generated, Selectable } from 'kysely';
import type { Timestamp } from './core';

declare module './core' {
  interface OutboxTable {
    /** Written with an outbox_batches row: published when that row is gone, not by published_at. */
    batched: Generated<boolean>;
  }
}

/** Outbox rows written together whose jobs are not known to be on the queues yet. */
export interface OutboxBatchesTable {
  id: Generated<string>;
  /** bigint[]: pg returns each id as a string, so no precision is lost. */
  outbox_ids: string[];
  created_at: Timestamp;
}

export interface OutboxBatchesTables {
  outbox_batches: OutboxBatchesTable;
}

export type OutboxBatch = Selectable<OutboxBatchesTable>;
