/**
 * Start-up advice on the Postgres server's settings, logged as warnings (never a refusal: Postgres
 * works without them, only worse as time goes on). Every comment's decision is an update of its row
 * that no index can skip, and every batched write inserts and later deletes a publication-batch
 * row, so without autovacuum Parley's tables and indexes keep their dead rows for good; and without
 * its ANALYZE the planner never learns how big they have become.
 */
import { sql } from 'kysely';
import type { Db } from '../../db/schema';

export interface PostgresSettings {
  /** null when the setting could not be read. */
  autovacuum: boolean | null;
  /** Autovacuum needs the statistics collector's counts to know which tables to visit. */
  trackCounts: boolean | null;
}

export async function readPostgresSettings(db: Db): Promise<PostgresSettings> {
  const r = await sql<{ name: string; setting: string }>`
    select name, setting from pg_settings where name in ('autovacuum', 'track_counts')`.execute(db);
  const on = (name: string) => {
    const row = r.rows.find((x) => x.name === name);
    return row ? row.setting === 'on' : null;
  };
  return { autovacuum: on('autovacuum'), trackCounts: on('track_counts') };
}

/** Pure: the settings as warnings, each saying what it costs and how to fix it. */
export function judgePostgresSettings(s: PostgresSettings): string[] {
  const off: string[] = [];
  if (s.autovacuum === false) off.push('autovacuum');
  if (s.trackCounts === false) off.push('track_counts');
  if (!off.length) return [];
  return [
    `Postgres has ${off.join(' and ')} off: Parley's tables will keep every dead row (each decision ` +
      'updates its comment; publication batches are written and deleted) and their statistics will ' +
      `not be refreshed, so writes and lookups slow down as the tables grow. Fix: ${off
        .map((n) => `\`${n} = on\``)
        .join(' and ')} in postgresql.conf (the default), then reload; or vacuum and analyse on a ` +
      'schedule of your own.',
  ];
}
