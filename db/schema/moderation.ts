/** Row types of the moderation tables (migration 2026-11-27T0300-moderation). */
import type { ColumnType, Selectable } from 'kysely';
import type { AdaptiveState } from '../../src/moderation/adaptive';
import type { Json, Timestamp } from './core';

/** A nullable bigint: read as a string (no precision lost), written as bigint, string or null. */
type NullableBigInt = ColumnType<string | null, bigint | string | null | undefined, bigint | string | null>;
type NullableInt = ColumnType<number | null, number | null | undefined, number | null>;

// Near-duplicate fingerprints live on the comment (declaration merging keeps core.ts untouched).
declare module './core' {
  interface CommentsTable {
    simhash: NullableBigInt;
    simhash_b0: NullableInt;
    simhash_b1: NullableInt;
    simhash_b2: NullableInt;
    simhash_b3: NullableInt;
  }
}

export interface AdaptiveModelsTable {
  site_id: string;
  state: Json<AdaptiveState>;
  updates: ColumnType<number, number | undefined, number>;
  last_outbox_id: NullableBigInt;
  updated_at: Timestamp;
}

export type AdaptiveLabel = 'ok' | 'spam' | 'toxic';

export interface AdaptiveLabelsTable {
  outbox_id: string | bigint;
  site_id: string;
  comment_id: string | null;
  label: AdaptiveLabel;
  created_at: Timestamp;
}

export interface ModerationTables {
  adaptive_models: AdaptiveModelsTable;
  adaptive_labels: AdaptiveLabelsTable;
}

export type AdaptiveModelRow = Selectable<AdaptiveModelsTable>;
