// Frozen: never edit a migration that has shipped; add a new dated one instead.
import { type Kysely, sql } from 'kysely';

/**
 * Since 2026-12-05T0000 the status indexes hold decided rows only, so a site's pending queue (the
 * moderation workspace's `pending`, oldest first) read `comments_pending_idx` in time order and
 * checked the site of every row: fine while few comments wait, but in a backlog left by stopped
 * workers it would walk every site's waiting comments to find one site's page. Keyed by site
 * first, as `comments_held_queue_idx` is, the page is one range again; the stale-pending sweep,
 * which wants the oldest waiting comments of all sites, takes one range per site
 * (findStalePending). Only pending rows are in it, so it is small and quick to build.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists comments_pending_idx`.execute(db);
  await sql`create index comments_pending_idx on comments (site_id, created_at, id) where status = 'pending'`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index if exists comments_pending_idx`.execute(db);
  await sql`create index comments_pending_idx on comments (created_at) where status = 'pending'`.execute(db);
}
