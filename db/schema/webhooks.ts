/** Row types of the webhooks tables (migration 2026-11-27T0200-webhooks). */
import type { ColumnType, Generated, Selectable } from 'kysely';
import type { BigIntColumn, Timestamp } from './core';

export interface WebhookEndpointsTable {
  id: string;
  site_id: string;
  url: string;
  description: Generated<string>;
  event_types: ColumnType<string[], string[] | undefined, string[]>;
  enabled: Generated<boolean>;
  disabled_reason: string | null;
  disabled_at: Date | null;
  failing_since: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WebhookSecretsTable {
  id: Generated<string>;
  endpoint_id: string;
  secret_enc: string;
  created_at: Timestamp;
  expires_at: Date | null;
}

export type WebhookMessageStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookMessagesTable {
  id: string;
  seq: Generated<string>;
  site_id: string;
  endpoint_id: string;
  outbox_id: BigIntColumn | null;
  comment_id: string | null;
  event_type: string;
  shard: Generated<string>;
  body: string;
  status: WebhookMessageStatus;
  tries: Generated<number>;
  attempts: Generated<number>;
  next_attempt_at: Date | null;
  lease_token: string | null;
  lease_until: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Timestamp;
  delivered_at: Date | null;
  updated_at: Timestamp;
}

export type AttemptOutcome = 'success' | 'http_error' | 'timeout' | 'network_error' | 'blocked';

export interface WebhookAttemptsTable {
  id: Generated<string>;
  message_id: string;
  endpoint_id: string;
  attempt: number;
  /** scheduled or manual */
  trigger: string;
  outcome: AttemptOutcome;
  status_code: number | null;
  duration_ms: number;
  response_body: string | null;
  error: string | null;
  created_at: Timestamp;
}

export interface WebhooksTables {
  webhook_endpoints: WebhookEndpointsTable;
  webhook_secrets: WebhookSecretsTable;
  webhook_messages: WebhookMessagesTable;
  webhook_attempts: WebhookAttemptsTable;
}

export type WebhookEndpoint = Selectable<WebhookEndpointsTable>;
export type WebhookMessage = Selectable<WebhookMessagesTable>;
export type WebhookAttempt = Selectable<WebhookAttemptsTable>;
