/** Row types of the foundation tables (migration 2026-11-27T0000-foundation). */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** jsonb: read as a parsed value, written as a JSON string (pg would turn JS arrays into SQL arrays). */
export type Json<T> = ColumnType<T, string, string>;
/** bigint comes back from pg as a string so no precision is lost. */
export type BigIntColumn = ColumnType<string, string | number | bigint | undefined, string | number | bigint>;
export type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type CommentStatus = 'pending' | 'published' | 'held' | 'rejected' | 'deleted';

export interface SitesTable {
  id: string;
  name: string;
  allowed_origins: ColumnType<string[], string[] | undefined, string[]>;
  policy: Json<Record<string, unknown>>;
  policy_version: Generated<number>;
  created_at: Timestamp;
}

export interface PolicyVersionsTable {
  site_id: string;
  version: number;
  policy: Json<Record<string, unknown>>;
  created_by: string | null;
  created_at: Timestamp;
}

export interface ArticlesTable {
  id: string;
  site_id: string;
  external_id: string;
  url: string | null;
  title: string | null;
  closed: Generated<boolean>;
  published_count: Generated<number>;
  thread_version: BigIntColumn;
  created_at: Timestamp;
}

/** What the API learned at submission time, for bot rules that run later in a worker. */
export interface SubmissionSignals {
  honeypot?: boolean;
  formToken?: 'missing' | 'invalid' | 'ok';
  formAgeMs?: number;
}

export interface CommentsTable {
  id: string;
  site_id: string;
  article_id: string;
  parent_id: string | null;
  root_id: string | null;
  author_name: string;
  author_email: string | null;
  email_hash: string | null;
  body: string;
  status: CommentStatus;
  ip_hash: string | null;
  user_agent: string | null;
  referrer: string | null;
  signals: Json<SubmissionSignals>;
  idempotency_key: string | null;
  request_id: string | null;
  report_count: Generated<number>;
  created_at: Timestamp;
  decided_at: Date | null;
  updated_at: Timestamp;
}

/** Who made a decision: the pipeline, a moderator, or the comment's author deleting it (2026-12-03). */
export type ActorType = 'system' | 'moderator' | 'author';

export interface ModerationDecisionsTable {
  id: Generated<string>;
  comment_id: string;
  site_id: string;
  actor_type: ActorType;
  actor_id: string | null;
  action: string;
  from_status: string;
  to_status: string;
  reason_code: string | null;
  reasons: Json<unknown[]>;
  scores: Json<Record<string, number>>;
  policy_version: number | null;
  created_at: Timestamp;
}

export interface OutboxTable {
  id: Generated<string>;
  topic: string;
  site_id: string;
  comment_id: string | null;
  payload: Json<Record<string, unknown>>;
  request_id: string | null;
  created_at: Timestamp;
  published_at: Date | null;
}

export type TokenRole = 'admin' | 'moderator';

export interface ApiTokensTable {
  id: string;
  site_id: string;
  role: TokenRole;
  name: string;
  token_hash: string;
  created_at: Timestamp;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface CoreTables {
  sites: SitesTable;
  policy_versions: PolicyVersionsTable;
  articles: ArticlesTable;
  comments: CommentsTable;
  moderation_decisions: ModerationDecisionsTable;
  outbox: OutboxTable;
  api_tokens: ApiTokensTable;
}

export type Site = Selectable<SitesTable>;
export type Article = Selectable<ArticlesTable>;
export type Comment = Selectable<CommentsTable>;
export type NewComment = Insertable<CommentsTable>;
export type Decision = Selectable<ModerationDecisionsTable>;
export type OutboxRow = Selectable<OutboxTable>;
