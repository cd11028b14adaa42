/** Row types of the workspace tables (migration 2026-11-27T0100-workspace). */
import type { Generated, Selectable } from 'kysely';
import type { Timestamp } from './core';

// The workspace adds its columns to comments by declaration merging, so the foundation file stays
// untouched: a lease for claiming and the moment reader reports crossed the threshold.
declare module './core' {
  interface CommentsTable {
    claimed_by: Generated<string | null>;
    claim_expires_at: Generated<Date | null>;
    reported_at: Generated<Date | null>;
  }
}

export type MemberRole = 'admin' | 'moderator';

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  created_at: Timestamp;
  disabled_at: Date | null;
}

export interface MembershipsTable {
  user_id: string;
  site_id: string;
  role: MemberRole;
  created_at: Timestamp;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  user_id: string;
  csrf_token: string;
  user_agent: string | null;
  created_at: Timestamp;
  expires_at: Date;
}

export interface BansTable {
  id: string;
  site_id: string;
  kind: 'email' | 'ip';
  value_hash: string;
  reason: string | null;
  source_comment_id: string | null;
  created_by: string;
  created_at: Timestamp;
  expires_at: Date | null;
  revoked_at: Date | null;
}

export type ReportReason = 'spam' | 'abuse' | 'off_topic' | 'other';

export interface ReportsTable {
  id: string;
  site_id: string;
  comment_id: string;
  reader_key: string;
  ip_hash: string | null;
  reason: ReportReason;
  note: string | null;
  created_at: Timestamp;
}

export interface SiteSettingsTable {
  site_id: string;
  report_threshold: Generated<number>;
  retention_days: Generated<number>;
  erase_mode: Generated<'anonymise' | 'delete'>;
  updated_at: Timestamp;
}

export interface WorkspaceTables {
  users: UsersTable;
  memberships: MembershipsTable;
  sessions: SessionsTable;
  bans: BansTable;
  reports: ReportsTable;
  site_settings: SiteSettingsTable;
}

export type User = Selectable<UsersTable>;
export type Ban = Selectable<BansTable>;
export type Report = Selectable<ReportsTable>;
