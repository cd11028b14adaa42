/**
 * Policy history and what the what-if replay needs: a site's recently decided comments, the
 * moderators' final word on each, and the history each had when it was decided, rebuilt from
 * Postgres (the live counters in Redis are long gone by then).
 */
import { sql } from 'kysely';
import type { Db, SubmissionSignals } from '../../db/schema';
import { parsePolicy } from '../moderation/policy';
import type { Outcome } from '../moderation/types';
import { findNearDuplicates } from './duplicates';

export async function listPolicyVersions(db: Db, siteId: string, limit: number) {
  const rows = await db
    .selectFrom('policy_versions')
    .select(['version', 'policy', 'created_by', 'created_at'])
    .where('site_id', '=', siteId)
    .orderBy('version', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    version: r.version,
    policy: parsePolicy(r.policy),
    createdBy: r.created_by,
    createdAt: r.created_at,
  }));
}

export async function policyVersionCreatedAt(db: Db, siteId: string, version: number) {
  const r = await db
    .selectFrom('policy_versions')
    .select('created_at')
    .where('site_id', '=', siteId)
    .where('version', '=', version)
    .executeTakeFirst();
  return r?.created_at ?? null;
}

const FINAL_OF: Record<string, Outcome> = {
  published: 'publish',
  held: 'hold',
  pending: 'hold',
  rejected: 'reject',
  deleted: 'reject',
};

export interface DecidedComment {
  id: string;
  articleId: string;
  parentId: string | null;
  authorName: string;
  emailHash: string | null;
  ipHash: string | null;
  userAgent: string | null;
  referrer: string | null;
  body: string;
  signals: SubmissionSignals;
  createdAt: Date;
  /** The moderators' final decision if they made one, else the decision that still stands. */
  finalDecision: Outcome;
  reviewedByModerator: boolean;
  /** The system decision found the article closed at the time. */
  articleWasClosed: boolean;
  history: {
    authorApproved?: number;
    authorRejected?: number;
    recentByIp?: number;
    recentByAuthor?: number;
    recentByArticle?: number;
    duplicates: string[];
  };
}

/**
 * The site's comments decided since `since`, newest first, at most `limit`, each with its final
 * decision and the history it had at the time: counts of the author's, IP's and article's comments
 * within `velocityWindowMs` before it, the author's published and rejected comments before it, and
 * its near-duplicates within `duplicateWindowMs` before it. Three queries for the whole set.
 */
export async function recentDecided(
  db: Db,
  siteId: string,
  opts: { since: Date; limit: number; velocityWindowMs: number; duplicateWindowMs: number },
): Promise<DecidedComment[]> {
  const rows = await db
    .selectFrom('comments as c')
    .select([
      'c.id',
      'c.article_id',
      'c.parent_id',
      'c.author_name',
      'c.email_hash',
      'c.ip_hash',
      'c.user_agent',
      'c.referrer',
      'c.body',
      'c.signals',
      'c.status',
      'c.created_at',
    ])
    .where('c.site_id', '=', siteId)
    .where('c.status', 'in', ['published', 'held', 'rejected'])
    .where('c.decided_at', '>=', opts.since)
    .orderBy('c.decided_at', 'desc')
    .orderBy('c.id', 'desc')
    .limit(opts.limit)
    .execute();
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);

  const decisions = await db
    .selectFrom('moderation_decisions')
    .select(['comment_id', 'actor_type', 'to_status', 'reasons', 'id'])
    .where('comment_id', 'in', ids)
    .orderBy('id', 'asc')
    .execute();
  const finalByModerator = new Map<string, string>();
  const closedAtTheTime = new Set<string>();
  for (const d of decisions) {
    if (d.actor_type === 'moderator') finalByModerator.set(d.comment_id, d.to_status);
    // Its author edited it since: the moderator judged a text it no longer has.
    else if (d.actor_type === 'author') finalByModerator.delete(d.comment_id);
    else if ((d.reasons as Array<{ rule?: string }>).some((r) => r?.rule === 'closed-article')) {
      closedAtTheTime.add(d.comment_id);
    }
  }

  const win = sql.lit(`${Math.max(0, Math.round(opts.velocityWindowMs))} milliseconds`);
  const values = rows.map(
    (r) =>
      sql`(${r.id}::uuid, ${r.created_at}::timestamptz, ${r.email_hash}::text, ${r.ip_hash}::text, ${r.article_id}::uuid)`,
  );
  // Bounded counts (limit inside each subquery) so a prolific author or a busy IP stays cheap; one
  // plain equality per subquery so each uses its (site, column) index.
  const count = (where: ReturnType<typeof sql>) => sql`(select count(*) from (
      select 1 from comments o where o.site_id = ${siteId} and ${where} limit 1000) x)`;
  const counts = await sql<{
    id: string;
    by_ip: string | null;
    by_author: string | null;
    by_article: string;
    approved: string | null;
    rejected: string | null;
  }>`
    select v.id,
      case when v.ip is null then null else ${count(sql`o.ip_hash = v.ip and o.created_at > v.at - ${win}::interval and o.created_at <= v.at`)} end as by_ip,
      case when v.email is null then null else ${count(sql`o.email_hash = v.email and o.created_at > v.at - ${win}::interval and o.created_at <= v.at`)} end as by_author,
      ${count(sql`o.article_id = v.article and o.created_at > v.at - ${win}::interval and o.created_at <= v.at`)} as by_article,
      case when v.email is not null then ${count(sql`o.email_hash = v.email and o.created_at < v.at and o.status = 'published'`)}
        when v.ip is not null then ${count(sql`o.ip_hash = v.ip and o.created_at < v.at and o.status = 'published'`)} end as approved,
      case when v.email is not null then ${count(sql`o.email_hash = v.email and o.created_at < v.at and o.status = 'rejected'`)}
        when v.ip is not null then ${count(sql`o.ip_hash = v.ip and o.created_at < v.at and o.status = 'rejected'`)} end as rejected
    from (values ${sql.join(values)}) as v(id, at, email, ip, article)`.execute(db);
  const countsById = new Map(counts.rows.map((r) => [r.id, r]));
  const dups = await findNearDuplicates(
    db,
    rows.map((r) => ({ id: r.id, siteId, body: r.body, createdAt: r.created_at })),
    opts.duplicateWindowMs,
  );

  const num = (v: string | null | undefined) => (v === null || v === undefined ? undefined : Number(v));
  return rows.map((r) => {
    const c = countsById.get(r.id);
    const moderator = finalByModerator.get(r.id);
    return {
      id: r.id,
      articleId: r.article_id,
      parentId: r.parent_id,
      authorName: r.author_name,
      emailHash: r.email_hash,
      ipHash: r.ip_hash,
      userAgent: r.user_agent,
      referrer: r.referrer,
      body: r.body,
      signals: r.signals ?? {},
      createdAt: r.created_at,
      finalDecision: FINAL_OF[moderator ?? r.status] ?? 'hold',
      reviewedByModerator: moderator !== undefined,
      articleWasClosed: closedAtTheTime.has(r.id),
      history: {
        authorApproved: num(c?.approved),
        authorRejected: num(c?.rejected),
        recentByIp: num(c?.by_ip),
        recentByAuthor: num(c?.by_author),
        recentByArticle: num(c?.by_article),
        duplicates: dups.get(r.id) ?? [],
      },
    };
  });
}
