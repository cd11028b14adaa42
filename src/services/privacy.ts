/**
 * Privacy: export and erase what Parley stores about an author (found by email hash within one
 * site), and the scheduled purge of submission context past each site's retention period.
 */
import { type Kysely, sql } from 'kysely';
import type { Database, OutboxRow } from '../../db/schema';
import { hashEmail } from '../lib/crypto';
import type { Queues } from '../queue';
import { bumpThreads } from '../repositories/articles';
import { insertDecisions } from '../repositories/decisions';
import { insertOutbox } from '../repositories/outbox';
import { getSettings } from '../repositories/site-settings';
import { publishNow } from './outbox-publisher';

export async function exportAuthor(db: Kysely<Database>, secret: string, siteId: string, email: string) {
  const emailHash = hashEmail(secret, email);
  const comments = await db
    .selectFrom('comments as c')
    .innerJoin('articles as a', 'a.id', 'c.article_id')
    .select([
      'c.id',
      'a.external_id as article_id',
      'a.url as article_url',
      'c.parent_id',
      'c.author_name',
      'c.author_email',
      'c.body',
      'c.status',
      'c.ip_hash',
      'c.user_agent',
      'c.referrer',
      'c.created_at',
      'c.decided_at',
    ])
    .where('c.site_id', '=', siteId)
    .where('c.email_hash', '=', emailHash)
    .orderBy('c.created_at')
    .execute();
  const ids = comments.map((c) => c.id);
  const decisions = ids.length
    ? await db
        .selectFrom('moderation_decisions')
        .select([
          'comment_id',
          'actor_type',
          'action',
          'from_status',
          'to_status',
          'reason_code',
          'reasons',
          'created_at',
        ])
        .where('comment_id', 'in', ids)
        .orderBy('id')
        .execute()
    : [];
  // The texts their edits replaced are theirs too.
  const revisions = ids.length
    ? await db
        .selectFrom('comment_revisions')
        .select(['comment_id', 'revision', 'body', 'created_at', 'replaced_at'])
        .where('comment_id', 'in', ids)
        .orderBy('revision')
        .execute()
    : [];
  const ipHashes = [...new Set(comments.map((c) => c.ip_hash).filter((h): h is string => !!h))];
  const reports = ipHashes.length
    ? await db
        .selectFrom('reports')
        .select(['comment_id', 'reason', 'note', 'created_at'])
        .where('site_id', '=', siteId)
        .where('ip_hash', 'in', ipHashes)
        .execute()
    : [];
  const bans = await db
    .selectFrom('bans')
    .select(['id', 'kind', 'reason', 'created_at', 'expires_at', 'revoked_at'])
    .where('site_id', '=', siteId)
    .where((eb) =>
      eb.or([
        eb.and([eb('kind', '=', 'email'), eb('value_hash', '=', emailHash)]),
        ...(ipHashes.length ? [eb.and([eb('kind', '=', 'ip'), eb('value_hash', 'in', ipHashes)])] : []),
      ]),
    )
    .execute();
  return {
    siteId,
    email,
    generatedAt: new Date().toISOString(),
    note: 'IP addresses are never stored; ipHash is a keyed hash of the address.',
    comments: comments.map((c) => ({
      id: c.id,
      articleId: c.article_id,
      articleUrl: c.article_url,
      parentId: c.parent_id,
      authorName: c.author_name,
      authorEmail: c.author_email,
      body: c.body,
      status: c.status,
      ipHash: c.ip_hash,
      userAgent: c.user_agent,
      referrer: c.referrer,
      createdAt: c.created_at.toISOString(),
      decidedAt: c.decided_at?.toISOString() ?? null,
      earlierVersions: revisions
        .filter((v) => v.comment_id === c.id)
        .map((v) => ({
          body: v.body,
          writtenAt: v.created_at.toISOString(),
          replacedAt: v.replaced_at.toISOString(),
        })),
      decisions: decisions
        .filter((d) => d.comment_id === c.id)
        .map((d) => ({
          actorType: d.actor_type,
          action: d.action,
          fromStatus: d.from_status,
          toStatus: d.to_status,
          reasonCode: d.reason_code,
          reasons: d.reasons,
          createdAt: d.created_at.toISOString(),
        })),
    })),
    reportsFiled: reports.map((r) => ({
      commentId: r.comment_id,
      reason: r.reason,
      note: r.note,
      createdAt: r.created_at.toISOString(),
    })),
    bans: bans.map((b) => ({
      id: b.id,
      kind: b.kind,
      reason: b.reason,
      createdAt: b.created_at.toISOString(),
      expiresAt: b.expires_at?.toISOString() ?? null,
      revokedAt: b.revoked_at?.toISOString() ?? null,
    })),
  };
}

/**
 * Erases an author's personal data on one site. Comments are anonymised (name, email, hashes, user
 * agent and referrer removed; text kept) or, when the site's erase mode is `delete`, also emptied
 * and marked deleted. Rows stay because the append-only audit references them.
 */
export async function eraseAuthor(
  deps: { db: Kysely<Database>; queues: Queues },
  secret: string,
  siteId: string,
  email: string,
  actorId: string,
) {
  const emailHash = hashEmail(secret, email);
  const settings = await getSettings(deps.db, siteId);
  let outbox: OutboxRow[] = [];
  const res = await deps.db.transaction().execute(async (trx) => {
    const rows = await trx
      .selectFrom('comments')
      .select(['id', 'article_id', 'status', 'ip_hash'])
      .where('site_id', '=', siteId)
      .where('email_hash', '=', emailHash)
      .forUpdate()
      .execute();
    if (!rows.length) return { comments: 0, mode: settings.eraseMode };
    const ids = rows.map((r) => r.id);
    const ipHashes = [...new Set(rows.map((r) => r.ip_hash).filter((h): h is string => !!h))];
    const del = settings.eraseMode === 'delete';
    await trx
      .updateTable('comments')
      .set({
        author_name: '[erased]',
        author_email: null,
        email_hash: null,
        ip_hash: null,
        user_agent: null,
        referrer: null,
        updated_at: new Date(),
        ...(del ? { body: '', status: 'deleted' as const, decided_at: new Date() } : {}),
      })
      .where('id', 'in', ids)
      .execute();
    if (ipHashes.length) {
      await trx
        .updateTable('reports')
        .set({ ip_hash: null })
        .where('site_id', '=', siteId)
        .where('ip_hash', 'in', ipHashes)
        .execute();
    }
    if (del) {
      // The texts their edits replaced are emptied with the comments.
      await trx.deleteFrom('comment_revisions').where('comment_id', 'in', ids).execute();
      const deltas = new Map<string, number>();
      for (const r of rows)
        if (r.status === 'published') deltas.set(r.article_id, (deltas.get(r.article_id) ?? 0) - 1);
      await bumpThreads(trx, deltas);
      // One the author withdrew before was announced then; erasing it again changes nothing public.
      const newlyDeleted = rows.filter((r) => r.status !== 'deleted');
      await insertDecisions(
        trx,
        newlyDeleted.map((r) => ({
          commentId: r.id,
          siteId,
          actorType: 'moderator' as const,
          actorId,
          action: 'erase',
          fromStatus: r.status,
          toStatus: 'deleted',
          reasonCode: 'erasure',
        })),
      );
      outbox = await insertOutbox(
        trx,
        newlyDeleted.map((r) => ({
          topic: 'comment.deleted',
          siteId,
          commentId: r.id,
          payload: { articleId: r.article_id, actor: 'moderator', reasonCode: 'erasure' },
        })),
      );
    } else {
      // Published text stays, but its author is gone: caches of the thread must refresh.
      const touched = new Map<string, number>();
      for (const r of rows) if (r.status === 'published') touched.set(r.article_id, 0);
      await bumpThreads(trx, touched);
    }
    return { comments: rows.length, mode: settings.eraseMode };
  });
  void publishNow(deps.db, deps.queues, outbox);
  return res;
}

/**
 * Clears IP hash, user agent and referrer from comments (and IP hashes from reports) older than
 * their site's retention period. Bounded per pass; returns how many rows it cleared.
 */
export async function purgeSubmissionContext(db: Kysely<Database>, limit = 5000): Promise<number> {
  const r = await sql`
    update comments c set ip_hash = null, user_agent = null, referrer = null
     where c.id in (
       select c2.id from comments c2
         left join site_settings ss on ss.site_id = c2.site_id
        where c2.created_at < now() - make_interval(days => coalesce(ss.retention_days, 90))
          and (c2.ip_hash is not null or c2.user_agent is not null or c2.referrer is not null)
        limit ${limit})`.execute(db);
  const r2 = await sql`
    update reports r set ip_hash = null
     where r.id in (
       select r2.id from reports r2
         left join site_settings ss on ss.site_id = r2.site_id
        where r2.created_at < now() - make_interval(days => coalesce(ss.retention_days, 90))
          and r2.ip_hash is not null
        limit ${limit})`.execute(db);
  return Number(r.numAffectedRows ?? 0) + Number(r2.numAffectedRows ?? 0);
}
