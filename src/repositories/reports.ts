/** Reader reports on published comments; past the site's threshold a comment enters the reported queue. */
import { sql } from 'kysely';
import type { Db } from '../../db/schema';
import type { ReportReason } from '../../db/schema/workspace';
import { uuidv7 } from '../lib/ids';

export type FileReportResult =
  | { state: 'missing' }
  | { state: 'duplicate' }
  | { state: 'filed'; articleId: string; reporters: number; entered: boolean; requestId: string | null };

/**
 * Files one report. Reporters are counted since the last moderator decision on the comment (a
 * reviewed comment needs fresh reports to come back), one per IP hash so one address cannot push
 * a comment into the queue alone.
 */
export async function fileReport(
  trx: Db,
  input: {
    siteId: string;
    commentId: string;
    readerKey: string;
    ipHash: string | null;
    reason: ReportReason;
    note: string | null;
    threshold: number;
  },
): Promise<FileReportResult> {
  const c = await trx
    .selectFrom('comments')
    .select(['id', 'article_id', 'status', 'reported_at', 'request_id'])
    .where('site_id', '=', input.siteId)
    .where('id', '=', input.commentId)
    .forUpdate()
    .executeTakeFirst();
  if (c?.status !== 'published') return { state: 'missing' };
  const ins = await trx
    .insertInto('reports')
    .values({
      id: uuidv7(),
      site_id: input.siteId,
      comment_id: input.commentId,
      reader_key: input.readerKey,
      ip_hash: input.ipHash,
      reason: input.reason,
      note: input.note,
    })
    .onConflict((oc) => oc.columns(['comment_id', 'reader_key']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!ins) return { state: 'duplicate' };
  // Reports count from the last moderator decision, or the author's last edit (the reports before
  // it were about a text the comment no longer has).
  const r = await sql<{ n: string }>`
    select count(distinct coalesce(ip_hash, reader_key)) as n from reports
     where comment_id = ${input.commentId}::uuid
       and created_at > coalesce((select max(created_at) from moderation_decisions
                                   where comment_id = ${input.commentId}::uuid
                                     and actor_type in ('moderator', 'author')), '-infinity')`.execute(trx);
  const reporters = Number(r.rows[0]?.n ?? 0);
  const entered = !c.reported_at && reporters >= input.threshold;
  await trx
    .updateTable('comments')
    .set((eb) => ({
      report_count: eb('report_count', '+', 1),
      ...(entered ? { reported_at: new Date() } : {}),
    }))
    .where('id', '=', input.commentId)
    .execute();
  return { state: 'filed', articleId: c.article_id, reporters, entered, requestId: c.request_id };
}
