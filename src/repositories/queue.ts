/**
 * The moderation queues: held, reported, pending (not yet decided by the engine), and recent
 * moderator-visible outcomes (approved, rejected). Keyset-paginated, filterable, with leases.
 */
import { type Expression, type SqlBool, sql } from 'kysely';
import type { CommentStatus, Db } from '../../db/schema';
import { decodeKeysetCursor, encodeKeysetCursor, type KeysetCursor } from '../lib/keyset-cursor';

export const QUEUES = ['held', 'reported', 'pending', 'approved', 'rejected'] as const;
export type QueueName = (typeof QUEUES)[number];
/** Queues whose items are waiting for a human: "next" hands these out under a lease. */
export const CLAIMABLE: readonly QueueName[] = ['held', 'reported', 'pending'];
/** How far back the approved and rejected queues look. */
const RECENT_DAYS = 7;

export interface QueueFilters {
  /** The publisher's article id. */
  article?: string;
  /** A reason code recorded by any decision on the comment (e.g. `banned_word`, `spam`). */
  reason?: string;
  /** Exact author name, or the author's email hash. */
  author?: string;
  /** Only items at least / at most this many minutes old. */
  minAgeMinutes?: number;
  maxAgeMinutes?: number;
}

export type Cursor = KeysetCursor;

export function encodeQueueCursor(c: Cursor): string {
  return encodeKeysetCursor(c.at, c.id);
}

export const decodeQueueCursor = decodeKeysetCursor;

type Cmp = Expression<SqlBool>;

/** The column a queue is ordered by, and its direction (oldest first for work, newest first for outcomes). */
function order(queue: QueueName): { col: 'c.created_at' | 'c.reported_at' | 'c.decided_at'; asc: boolean } {
  if (queue === 'reported') return { col: 'c.reported_at', asc: true };
  if (queue === 'approved' || queue === 'rejected') return { col: 'c.decided_at', asc: false };
  return { col: 'c.created_at', asc: true };
}

function membership(queue: QueueName, now: Date): Cmp {
  const since = new Date(now.getTime() - RECENT_DAYS * 86_400_000);
  switch (queue) {
    case 'held':
      return sql<SqlBool>`c.status = 'held'`;
    case 'pending':
      return sql<SqlBool>`c.status = 'pending'`;
    case 'reported':
      return sql<SqlBool>`c.status = 'published' and c.reported_at is not null`;
    case 'approved':
      return sql<SqlBool>`c.status = 'published' and c.decided_at > ${since}`;
    case 'rejected':
      return sql<SqlBool>`c.status = 'rejected' and c.decided_at > ${since}`;
  }
}

/**
 * The article filter is a lookup of its id, not a join: with `articles` joined, the planner could
 * hash the two tables and sort the whole queue, where alone it reads the queue's index in order
 * and stops at the page's end (without statistics too, as on a database never analysed).
 */
function filterSql(f: QueueFilters, now: Date, siteId: string): Cmp[] {
  const out: Cmp[] = [];
  if (f.article)
    out.push(
      sql<SqlBool>`c.article_id = (select a.id from articles a where a.site_id = ${siteId} and a.external_id = ${f.article})`,
    );
  if (f.reason)
    out.push(sql<SqlBool>`exists (select 1 from moderation_decisions d where d.comment_id = c.id
      and (d.reason_code = ${f.reason} or d.reasons @> ${JSON.stringify([{ code: f.reason }])}::jsonb))`);
  if (f.author) out.push(sql<SqlBool>`(c.author_name = ${f.author} or c.email_hash = ${f.author})`);
  if (f.minAgeMinutes !== undefined)
    out.push(sql<SqlBool>`c.created_at <= ${new Date(now.getTime() - f.minAgeMinutes * 60_000)}`);
  if (f.maxAgeMinutes !== undefined)
    out.push(sql<SqlBool>`c.created_at >= ${new Date(now.getTime() - f.maxAgeMinutes * 60_000)}`);
  return out;
}

/**
 * Every queue page and every claim carries these counts. One count per queue, each a range of the
 * index that queue is listed from: one pass over the site's rows with all five conditions OR-ed
 * could use no index and read the site's whole last month (207 against 24 ms on a million
 * comments, docs/performance.md round 21).
 */
export async function queueCounts(db: Db, siteId: string, now: Date): Promise<Record<QueueName, number>> {
  const since = new Date(now.getTime() - RECENT_DAYS * 86_400_000);
  const r = await sql<Record<QueueName, string>>`
    select
      (select count(*) from comments where site_id = ${siteId} and status = 'held') as held,
      (select count(*) from comments where site_id = ${siteId} and status = 'pending') as pending,
      (select count(*) from comments
        where site_id = ${siteId} and reported_at is not null and status = 'published') as reported,
      (select count(*) from comments
        where site_id = ${siteId} and status = 'published' and decided_at > ${since}) as approved,
      (select count(*) from comments
        where site_id = ${siteId} and status = 'rejected' and decided_at > ${since}) as rejected`.execute(db);
  const row = r.rows[0]!;
  return Object.fromEntries(QUEUES.map((q) => [q, Number(row[q] ?? 0)])) as Record<QueueName, number>;
}

/** One page of a queue: ids in order, and the cursor of the next page. */
export async function listQueue(
  db: Db,
  siteId: string,
  queue: QueueName,
  opts: { filters: QueueFilters; cursor: Cursor | null; limit: number; now: Date },
): Promise<{ ids: string[]; nextCursor: string | null }> {
  const { col, asc } = order(queue);
  const conds: Cmp[] = [
    sql<SqlBool>`c.site_id = ${siteId}`,
    membership(queue, opts.now),
    ...filterSql(opts.filters, opts.now, siteId),
  ];
  if (opts.cursor) {
    conds.push(
      asc
        ? sql<SqlBool>`(${sql.ref(col)}, c.id) > (${opts.cursor.at}, ${opts.cursor.id}::uuid)`
        : sql<SqlBool>`(${sql.ref(col)}, c.id) < (${opts.cursor.at}, ${opts.cursor.id}::uuid)`,
    );
  }
  const dir = sql.raw(asc ? 'asc' : 'desc');
  const rows = await sql<{ id: string; at: Date }>`
    select c.id, ${sql.ref(col)} as at
    from comments c
    where ${sql.join(conds, sql` and `)}
    order by ${sql.ref(col)} ${dir}, c.id ${dir}
    limit ${opts.limit + 1}`.execute(db);
  const page = rows.rows.slice(0, opts.limit);
  const last = page.at(-1);
  return {
    ids: page.map((r) => r.id),
    nextCursor:
      rows.rows.length > opts.limit && last ? encodeQueueCursor({ at: last.at, id: last.id }) : null,
  };
}

/**
 * Leases the oldest unclaimed item of a queue to `actor`. FOR UPDATE SKIP LOCKED makes concurrent
 * callers pass over a row another transaction is claiming, and Postgres re-checks the lease
 * condition on the latest row version, so two callers can never both get the same item. An item
 * the caller already holds is handed back first (a reload does not lose one's place).
 *
 * Two questions, not one ordering: "held by me, then oldest" sorted the site's whole queue on
 * every claim, where each question alone is one index range (`comments_claims_idx`, then the
 * queue's own index in order), which stops at the first free row. The second is asked only when
 * the first finds nothing (COALESCE evaluates its arguments in turn).
 */
export async function claimNext(
  db: Db,
  siteId: string,
  queue: QueueName,
  opts: { actor: string; leaseSeconds: number; filters: QueueFilters; now: Date; skip?: string[] },
): Promise<string | null> {
  const conds: Cmp[] = [
    sql<SqlBool>`c.site_id = ${siteId}`,
    membership(queue, opts.now),
    ...filterSql(opts.filters, opts.now, siteId),
  ];
  if (opts.skip?.length)
    conds.push(sql<SqlBool>`c.id not in (${sql.join(opts.skip.map((s) => sql`${s}::uuid`))})`);
  const { col } = order(queue);
  const where = sql.join(conds, sql` and `);
  const pick = (lease: Cmp) => sql`(
       select c.id from comments c
        where ${where} and ${lease}
        order by ${sql.ref(col)} asc, c.id asc
        limit 1
        for update of c skip locked)`;
  const mine = sql<SqlBool>`(c.claimed_by = ${opts.actor} and c.claim_expires_at > now())`;
  const free = sql<SqlBool>`(c.claimed_by is null or c.claim_expires_at <= now())`;
  const r = await sql<{ id: string }>`
    update comments u
       set claimed_by = ${opts.actor},
           claim_expires_at = now() + make_interval(secs => ${opts.leaseSeconds})
     where u.id = coalesce(${pick(mine)}, ${pick(free)})
       and (u.claimed_by is null or u.claim_expires_at <= now() or u.claimed_by = ${opts.actor})
    returning u.id`.execute(db);
  return r.rows[0]?.id ?? null;
}

export type ClaimResult =
  | { state: 'claimed' }
  | { state: 'missing' }
  | { state: 'taken'; by: string; until: Date };

/** Leases one named item; fails if another moderator's lease is alive. */
export async function claimOne(
  db: Db,
  siteId: string,
  commentId: string,
  opts: { actor: string; leaseSeconds: number },
): Promise<ClaimResult> {
  const r = await sql<{ id: string }>`
    update comments set claimed_by = ${opts.actor},
           claim_expires_at = now() + make_interval(secs => ${opts.leaseSeconds})
     where id = ${commentId}::uuid and site_id = ${siteId}
       and (claimed_by is null or claim_expires_at <= now() or claimed_by = ${opts.actor})
    returning id`.execute(db);
  if (r.rows.length) return { state: 'claimed' };
  const row = await db
    .selectFrom('comments')
    .select(['claimed_by', 'claim_expires_at'])
    .where('id', '=', commentId)
    .where('site_id', '=', siteId)
    .executeTakeFirst();
  if (!row) return { state: 'missing' };
  return { state: 'taken', by: row.claimed_by ?? '', until: row.claim_expires_at ?? new Date(0) };
}

export async function releaseClaim(
  db: Db,
  siteId: string,
  commentId: string,
  actor: string,
): Promise<boolean> {
  const r = await db
    .updateTable('comments')
    .set({ claimed_by: null, claim_expires_at: null })
    .where('id', '=', commentId)
    .where('site_id', '=', siteId)
    .where('claimed_by', '=', actor)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

const excerpt = (s: string, n = 280) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Everything a moderator sees about each item, in a handful of queries for the whole page. */
export async function loadItems(db: Db, siteId: string, ids: string[], actor: string, now: Date) {
  if (!ids.length) return [];
  const rows = await db
    .selectFrom('comments as c')
    .innerJoin('articles as a', 'a.id', 'c.article_id')
    .leftJoin('comments as p', 'p.id', 'c.parent_id')
    .select([
      'c.id',
      'c.status',
      'c.body',
      'c.author_name',
      'c.email_hash',
      'c.ip_hash',
      'c.created_at',
      'c.decided_at',
      'c.revision',
      'c.edited_at',
      'c.report_count',
      'c.reported_at',
      'c.claimed_by',
      'c.claim_expires_at',
      'a.external_id as article_external_id',
      'a.title as article_title',
      'a.url as article_url',
      'a.closed as article_closed',
      'p.id as parent_id',
      'p.author_name as parent_author',
      'p.body as parent_body',
      'p.status as parent_status',
    ])
    .where('c.site_id', '=', siteId)
    .where('c.id', 'in', ids)
    .execute();
  const decisions = await db
    .selectFrom('moderation_decisions')
    .select([
      'comment_id',
      'actor_type',
      'actor_id',
      'action',
      'from_status',
      'to_status',
      'reason_code',
      'reasons',
      'revision',
      'created_at',
    ])
    .where('comment_id', 'in', ids)
    .orderBy('id')
    .execute();
  const revisions = await db
    .selectFrom('comment_revisions')
    .select(['comment_id', 'revision', 'body', 'created_at', 'replaced_at'])
    .where('comment_id', 'in', ids)
    .orderBy('comment_id')
    .orderBy('revision')
    .execute();
  const reports = await db
    .selectFrom('reports')
    .select(['comment_id', 'reason', 'note', 'created_at'])
    .where('comment_id', 'in', ids)
    .orderBy('created_at', 'desc')
    .execute();
  // Each author's counts by status and newest six comments, exact however prolific they are: a
  // shared row limit let one author with thousands of comments crowd the others' history out.
  const emailHashes = [...new Set(rows.map((r) => r.email_hash).filter((h): h is string => !!h))];
  const [authorCounts, recent] = emailHashes.length
    ? await Promise.all([
        db
          .selectFrom('comments')
          .select(['email_hash', 'status', (eb) => eb.fn.countAll<string>().as('n')])
          .where('site_id', '=', siteId)
          .where('email_hash', 'in', emailHashes)
          .groupBy(['email_hash', 'status'])
          .execute(),
        sql<{ id: string; email_hash: string; status: CommentStatus; body: string; created_at: Date }>`
          select r.id, r.email_hash, r.status, r.body, r.created_at
            from unnest(${emailHashes}::text[]) as e(hash)
            cross join lateral (
              select id, email_hash, status, body, created_at from comments
               where site_id = ${siteId} and email_hash = e.hash
               order by created_at desc, id desc
               limit 6) r`
          .execute(db)
          .then((r) => r.rows),
      ])
    : [[], []];

  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids
    .map((id) => byId.get(id))
    .filter((r): r is NonNullable<typeof r> => !!r)
    .map((r) => {
      const counts = { published: 0, held: 0, rejected: 0, pending: 0, deleted: 0 };
      if (r.email_hash) {
        for (const a of authorCounts) if (a.email_hash === r.email_hash) counts[a.status] += Number(a.n);
        counts[r.status] -= 1;
      }
      const mine = recent.filter((h) => h.email_hash === r.email_hash && h.id !== r.id);
      const leaseLive = r.claimed_by && r.claim_expires_at && r.claim_expires_at > now;
      return {
        id: r.id,
        status: r.status,
        body: r.body,
        authorName: r.author_name,
        /** A stable pseudonymous key for filtering by author; never the email itself. */
        authorKey: r.email_hash,
        hasEmail: !!r.email_hash,
        hasIp: !!r.ip_hash,
        createdAt: r.created_at.toISOString(),
        decidedAt: r.decided_at?.toISOString() ?? null,
        revision: r.revision,
        editedAt: r.edited_at?.toISOString() ?? null,
        revisions: revisions
          .filter((v) => v.comment_id === r.id)
          .map((v) => ({
            revision: v.revision,
            body: v.body,
            createdAt: v.created_at.toISOString(),
            replacedAt: v.replaced_at.toISOString(),
          })),
        reportCount: r.report_count,
        reportedAt: r.reported_at?.toISOString() ?? null,
        claim: leaseLive
          ? { by: r.claimed_by!, expiresAt: r.claim_expires_at!.toISOString(), mine: r.claimed_by === actor }
          : null,
        article: {
          id: r.article_external_id,
          title: r.article_title,
          url: r.article_url,
          closed: r.article_closed,
        },
        parent: r.parent_id
          ? {
              id: r.parent_id,
              authorName: r.parent_author ?? '',
              body: excerpt(r.parent_body ?? '', 600),
              status: r.parent_status ?? 'deleted',
            }
          : null,
        history: {
          ...counts,
          recent: mine.slice(0, 5).map((h) => ({
            id: h.id,
            status: h.status,
            body: excerpt(h.body, 160),
            createdAt: h.created_at.toISOString(),
          })),
        },
        decisions: decisions
          .filter((d) => d.comment_id === r.id)
          .map((d) => ({
            actorType: d.actor_type,
            actorId: d.actor_id,
            action: d.action,
            fromStatus: d.from_status,
            toStatus: d.to_status,
            reasonCode: d.reason_code,
            reasons: (Array.isArray(d.reasons) ? d.reasons : []).map((v) => normaliseReason(v)),
            revision: d.revision,
            createdAt: d.created_at.toISOString(),
          })),
        reports: reports
          .filter((x) => x.comment_id === r.id)
          .slice(0, 20)
          .map((x) => ({ reason: x.reason, note: x.note, createdAt: x.created_at.toISOString() })),
      };
    });
}

export type QueueItem = Awaited<ReturnType<typeof loadItems>>[number];

/** Stored reasons are JSON written by the engine; pass through only the fields the UI shows. */
function normaliseReason(v: unknown) {
  const o = (v ?? {}) as Record<string, unknown>;
  const spans = Array.isArray(o.spans)
    ? (o.spans as Array<Record<string, unknown>>)
        .filter((s) => Number.isInteger(s?.start) && Number.isInteger(s?.end))
        .map((s) => ({ start: s.start as number, end: s.end as number }))
    : [];
  return {
    rule: typeof o.rule === 'string' ? o.rule : '',
    category: typeof o.category === 'string' ? o.category : '',
    code: typeof o.code === 'string' ? o.code : '',
    message: typeof o.message === 'string' ? o.message : '',
    score: typeof o.score === 'number' ? o.score : null,
    shadow: o.shadow === true,
    spans,
  };
}
