/** Workspace settings per site: report threshold, retention of submission context, erasure mode. */
import type { Db } from '../../db/schema';

export interface WorkspaceSettings {
  reportThreshold: number;
  retentionDays: number;
  eraseMode: 'anonymise' | 'delete';
}

export const DEFAULT_SETTINGS: WorkspaceSettings = {
  reportThreshold: 3,
  retentionDays: 90,
  eraseMode: 'anonymise',
};

export async function getSettings(db: Db, siteId: string): Promise<WorkspaceSettings> {
  const r = await db.selectFrom('site_settings').selectAll().where('site_id', '=', siteId).executeTakeFirst();
  if (!r) return { ...DEFAULT_SETTINGS };
  return { reportThreshold: r.report_threshold, retentionDays: r.retention_days, eraseMode: r.erase_mode };
}

export async function saveSettings(db: Db, siteId: string, s: WorkspaceSettings): Promise<void> {
  const values = {
    report_threshold: s.reportThreshold,
    retention_days: s.retentionDays,
    erase_mode: s.eraseMode,
    updated_at: new Date(),
  };
  await db
    .insertInto('site_settings')
    .values({ site_id: siteId, ...values })
    .onConflict((oc) => oc.column('site_id').doUpdateSet(values))
    .execute();
}
