/** Comments: the submission, its moderation state and the published thread. */
import { sql } from 'kysely';
import type { CommentStatus, Db, NewComment, OutboxRow } from '../../db/schema';
import { decodeKeysetCursor, encodeKeysetCursor } from '../lib/keyset-cursor';
import {
  type AnnouncedRow,
  asPublicationBatch,
  deleteBatches,
  deletingBatches,
  insertOutbox,
} from './outbox';

export interface ParentInfo {
  id: string;
  articleId: string;
  status: CommentStatus;
  rootId: string | null;
}

export async function findParents(db: Db, siteId: string, ids: string[]): Promise<Map<string, ParentInfo>> {
  const out = new Map<string, ParentInfo>();
  if (!ids.length) return out;
  const rows = await db
    .selectFrom('comments')
    .select(['id', 'article_id', 'status', 'root_id'])
    .where('site_id', '=', siteId)
    .where('id', 'in', ids)
    .execute();
  for (const r of rows)
    out.set(r.id, { id: r.id, articleId: r.article_id, status: r.status, rootId: r.root_id });
  return out;
}

/**
 * Postgres types of the comment columns ingest writes. A batch goes in as one array per column
 * through unnest(): the statement text stays the same whatever the batch size (Postgres parses a
 * short statement instead of one with a bind parameter per cell, and the query builder has nothing
 * to compile per row), which roughly halves the CPU an insert of a hundred rows costs.
 */
const COMMENT_COLUMN_TYPES: Record<string, string> = {
  id: 'uuid',
  site_id: 'text',
  article_id: 'uuid',
  parent_id: 'uuid',
  root_id: 'uuid',
  author_name: 'text',
  author_email: 'text',
  email_hash: 'text',
  body: 'text',
  status: 'text',
  ip_hash: 'text',
  user_agent: 'text',
  referrer: 'text',
  signals: 'jsonb',
  idempotency_key: 'text',
  request_id: 'text',
  created_at: 'timestamptz',
  updated_at: 'timestamptz',
  decided_at: 'timestamptz',
  simhash: 'int8',
  simhash_b0: 'int4',
  simhash_b1: 'int4',
  simhash_b2: 'int4',
  simhash_b3: 'int4',
};

/** Inserts many comments at once; rows whose idempotency key was seen before are skipped. */
export async function insertComments(db: Db, rows: NewComment[]): Promise<Set<string>> {
  if (!rows.length) return new Set();
  const insert = unnestInsert(rows);
  if (!insert) return insertCommentsWithValues(db, rows);
  const res = await sql<{ id: string }>`${insert} returning id`.execute(db);
  return new Set(res.rows.map((r) => r.id));
}

/**
 * Inserts comments and, for each row actually inserted, its outbox row (`topic`, payload with the
 * article and parent), in ONE statement. A single statement is its own transaction, so the pair is
 * atomic without BEGIN and COMMIT: one round trip per ingest batch instead of four, which under
 * load is most of what the API process spends talking to Postgres. A reply is stored only if its
 * parent is still published when the statement runs (see publishedParents); one left out is
 * simply not in `inserted`.
 */
export async function insertCommentsAnnounced(
  db: Db,
  rows: NewComment[],
  topic: string,
  /** Publication batches to delete in passing (see CoalescingPublisher.carryingMarks). */
  deleting: readonly string[] = [],
): Promise<{ inserted: Set<string>; outbox: OutboxRow[] | AnnouncedRow[] }> {
  if (!rows.length) {
    await deleteBatches(db, deleting);
    return { inserted: new Set(), outbox: [] };
  }
  const insert = unnestInsert(rows, { repliesToPublished: true });
  if (!insert) {
    // Rare general path: the same pair in an explicit transaction (or the caller's).
    const run = async (trx: Db) => {
      const parents = parentIdsOf(rows);
      const published = parents.length
        ? new Set(
            (await sql<{ id: string }>`${publishedParents(parents)}`.execute(trx)).rows.map((r) => r.id),
          )
        : new Set<string>();
      const storable = rows.filter((r) => !r.parent_id || published.has(r.parent_id as string));
      const inserted = storable.length ? await insertCommentsWithValues(trx, storable) : new Set<string>();
      const outbox = await insertOutbox(
        trx,
        rows
          .filter((r) => inserted.has(r.id))
          .map((r) => ({
            topic,
            siteId: r.site_id,
            commentId: r.id,
            requestId: r.request_id ?? null,
            payload: { articleId: r.article_id, parentId: r.parent_id ?? null },
          })),
      );
      await deleteBatches(trx, deleting);
      return { inserted, outbox };
    };
    return db.isTransaction ? run(db) : db.transaction().execute(run);
  }
  const res = await sql<AnnouncedRow>`
    with ins as (${insert} returning id, site_id, article_id, parent_id, request_id),
    ${deletingBatches(deleting)}
    ob as (
      insert into outbox (topic, site_id, comment_id, payload, request_id, batched)
      select ${topic}, site_id, id,
             jsonb_build_object('articleId', article_id, 'parentId', parent_id), request_id, true
      from ins
      returning *
    ),
    ${asPublicationBatch}`.execute(db);
  return { inserted: new Set(res.rows.map((r) => r.comment_id as string)), outbox: res.rows };
}

/** The fast form's INSERT (without RETURNING), or null when the rows need the general form. */
function unnestInsert(rows: NewComment[], opts: { repliesToPublished?: boolean } = {}) {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  // Unknown columns, or rows that leave out different columns (a left-out column gets its default,
  // not NULL), take the general path.
  if (
    columns.some((c) => !COMMENT_COLUMN_TYPES[c]) ||
    rows.some((r) => Object.keys(r).length !== columns.length)
  ) {
    return null;
  }
  const arrays = columns.map((c) => {
    const type = COMMENT_COLUMN_TYPES[c]!;
    const values = rows.map((r) => {
      // jsonb arrives as a JSON string (see db/schema), dates as Date: pg serializes both.
      const v = (r as Record<string, unknown>)[c];
      return v === undefined ? null : v;
    });
    return sql`${values}::${sql.raw(type)}[]`;
  });
  const parents = opts.repliesToPublished ? parentIdsOf(rows) : [];
  return sql`
    insert into comments (${sql.join(columns.map((c) => sql.ref(c)))})
    select * from unnest(${sql.join(arrays)}) as u(${sql.join(columns.map((c) => sql.ref(c)))})
    ${parents.length ? sql`where u.parent_id is null or u.parent_id in (${publishedParents(parents)})` : sql``}
    on conflict (site_id, idempotency_key) where idempotency_key is not null do nothing`;
}

const parentIdsOf = (rows: NewComment[]) => [
  ...new Set(rows.flatMap((r) => (r.parent_id ? [r.parent_id as string] : []))),
];

/**
 * The parents that are still published, read with a key-share lock. The caller checked them a
 * moment before, but an author's edit (which locks its row FOR UPDATE and sends it back to
 * pending) may commit in between: the lock waits for it, and the status is then read again, so a
 * reply never lands under a comment whose text changed and is not published. An edit that comes
 * after waits for this statement and then sees the reply (has_replies).
 */
const publishedParents = (ids: string[]) =>
  sql`select id from comments where id = any(${ids}::uuid[]) and status = 'published' for key share`;

/** The general form, for columns the fast path does not know yet. */
async function insertCommentsWithValues(db: Db, rows: NewComment[]): Promise<Set<string>> {
  const inserted = await db
    .insertInto('comments')
    .values(rows)
    .onConflict((oc) =>
      oc.columns(['site_id', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing(),
    )
    .returning('id')
    .execute();
  return new Set(inserted.map((r) => r.id));
}

export async function findByIdempotencyKeys(db: Db, siteId: string, keys: string[]) {
  if (!keys.length) return [];
  return (
    db
      .selectFrom('comments')
      // What the submission was, so a key reused for a different comment is refused, not replayed.
      .select([
        'id',
        'status',
        'idempotency_key',
        'article_id',
        'parent_id',
        'author_name',
        'author_email',
        'body',
      ])
      .where('site_id', '=', siteId)
      .where('idempotency_key', 'in', keys)
      .execute()
  );
}

/** What the moderation worker needs about each comment, in one query for a whole batch. */
export async function loadForModeration(db: Db, ids: string[]) {
  if (!ids.length) return [];
  return db
    .selectFrom('comments as c')
    .innerJoin('articles as a', 'a.id', 'c.article_id')
    .select([
      'c.id',
      'c.site_id',
      'c.article_id',
      'c.parent_id',
      'c.author_name',
      'c.author_email',
      'c.email_hash',
      'c.body',
      'c.status',
      'c.ip_hash',
      'c.user_agent',
      'c.referrer',
      'c.signals',
      'c.request_id',
      'c.created_at',
      // The near-duplicate fingerprint ingest stored, so the worker need not compute it again.
      'c.simhash',
      // Which text this is: the decision is written only if no edit replaced it meanwhile.
      'c.revision',
      'c.edited_at',
      'a.closed as article_closed',
      'a.url as article_url',
      'a.title as article_title',
      'a.external_id as article_external_id',
    ])
    .where('c.id', 'in', ids)
    .execute();
}

export type ModerationRow = Awaited<ReturnType<typeof loadForModeration>>[number];

export interface PublicComment {
  id: string;
  parentId: string | null;
  authorName: string;
  body: string;
  createdAt: string;
  /** When its author last edited it; null if never (and on a tombstone). */
  editedAt: string | null;
  /** Only on a tombstone: deleted, but kept for the published replies under it. */
  deleted?: true;
  replies: PublicComment[];
}

export interface ThreadPage {
  comments: PublicComment[];
  nextCursor: string | null;
  total: number;
}

export function decodeCursor(cursor: string): { createdAt: Date; id: string } | null {
  const c = decodeKeysetCursor(cursor);
  return c && { createdAt: c.at, id: c.id };
}

/** The statuses the thread indexes cover: published comments, and deleted ones as tombstones. */
const SHOWN = sql<boolean>`status in ('published', 'deleted')`;

/**
 * One page of top-level published comments with all their published replies, nested. Keyset
 * pagination on (created_at, id) so pages stay stable while new comments arrive.
 *
 * A deleted comment (its author withdrew it, or it was erased) that has published replies stays as
 * a tombstone, without name or text, so one reader deleting their comment does not take other
 * readers' answers with it; one without published replies is not listed.
 */
export async function readThread(
  db: Db,
  articleId: string,
  opts: { order: 'oldest' | 'newest'; limit: number; cursor?: { createdAt: Date; id: string } | null },
): Promise<Omit<ThreadPage, 'total'>> {
  const asc = opts.order === 'oldest';
  let q = db
    .selectFrom('comments as c')
    .select(['c.id', 'c.parent_id', 'c.author_name', 'c.body', 'c.created_at', 'c.status', 'c.edited_at'])
    .where('c.article_id', '=', articleId)
    .where(SHOWN)
    .where('c.parent_id', 'is', null)
    // Every comment of a thread carries its root's id, so a root has a published reply somewhere
    // below it exactly when one row of the replies index names it.
    .where((eb) =>
      eb.or([
        eb('c.status', '=', 'published'),
        eb.exists(
          eb
            .selectFrom('comments as r')
            .select(sql.lit(1).as('one'))
            .whereRef('r.root_id', '=', 'c.id')
            .where('r.status', '=', 'published'),
        ),
      ]),
    );
  if (opts.cursor) {
    const { createdAt, id } = opts.cursor;
    q = q.where((eb) => eb(eb.refTuple('c.created_at', 'c.id'), asc ? '>' : '<', eb.tuple(createdAt, id)));
  }
  const roots = await q
    .orderBy('c.created_at', asc ? 'asc' : 'desc')
    .orderBy('c.id', asc ? 'asc' : 'desc')
    .limit(opts.limit + 1)
    .execute();
  const more = roots.length > opts.limit;
  const page = roots.slice(0, opts.limit);
  const replies = page.length
    ? await db
        .selectFrom('comments')
        .select(['id', 'parent_id', 'root_id', 'author_name', 'body', 'created_at', 'status', 'edited_at'])
        .where(
          'root_id',
          'in',
          page.map((r) => r.id),
        )
        .where(SHOWN)
        .orderBy('created_at', 'asc')
        .orderBy('id', 'asc')
        .execute()
    : [];

  const toPublic = (r: (typeof replies)[number] | (typeof roots)[number]): PublicComment =>
    r.status === 'deleted'
      ? {
          id: r.id,
          parentId: r.parent_id,
          authorName: '',
          body: '',
          createdAt: r.created_at.toISOString(),
          editedAt: null,
          deleted: true,
          replies: [],
        }
      : {
          id: r.id,
          parentId: r.parent_id,
          authorName: r.author_name,
          body: r.body,
          createdAt: r.created_at.toISOString(),
          editedAt: r.edited_at?.toISOString() ?? null,
          replies: [],
        };
  const byId = new Map<string, PublicComment>();
  const top = page.map((r) => {
    const c = toPublic(r);
    byId.set(c.id, c);
    return c;
  });
  for (const r of replies) byId.set(r.id, toPublic(r));
  for (const r of replies) {
    const c = byId.get(r.id)!;
    // A reply whose parent is no longer shown (rejected, or held again) stays visible under its
    // thread's root.
    const parent = (r.parent_id && byId.get(r.parent_id)) || byId.get(r.root_id ?? '');
    parent?.replies.push(c);
  }
  for (const c of top) pruneTombstones(c);
  const last = page.at(-1);
  return { comments: top, nextCursor: more && last ? encodeKeysetCursor(last.created_at, last.id) : null };
}

/**
 * Drops deleted replies with nothing published under them; says whether `c` has anything
 * published in or under it. (A root tombstone always has: the query only lists those.)
 */
function pruneTombstones(c: PublicComment): boolean {
  if (c.replies.length) c.replies = c.replies.filter(pruneTombstones);
  return !c.deleted || c.replies.length > 0;
}

export async function findPublicStatus(db: Db, siteId: string, id: string) {
  return db
    .selectFrom('comments')
    .select(['id', 'status', 'parent_id', 'created_at', 'decided_at'])
    .where('site_id', '=', siteId)
    .where('id', '=', id)
    .executeTakeFirst();
}

/**
 * Comments still pending after `olderThan`, oldest first: their job was lost or is stuck. The
 * pending index is keyed by site (a site's pending queue reads it), so this takes the oldest of
 * each site, one index range per site, and merges them: every comment's site is in `sites`.
 */
export async function findStalePending(db: Db, olderThan: Date, limit: number) {
  const res = await sql<{ id: string; request_id: string | null; revision: number }>`
    select c.id, c.request_id, c.revision
    from sites s
    cross join lateral (
      select id, request_id, revision, created_at from comments
      where site_id = s.id and status = 'pending' and created_at < ${olderThan}
      order by created_at, id
      limit ${limit}
    ) c
    order by c.created_at, c.id
    limit ${limit}`.execute(db);
  return res.rows;
}
