/**
 * What a moderator can do to comments: approve, reject with a reason, undo, ban an author. Each
 * action is one transaction: lock the rows, compare-and-set the status, append the audit row,
 * write the outbox rows (webhooks, the engine's learning loop) and keep the thread counters right.
 */
import type { Kysely } from 'kysely';
import type { CommentStatus, Database, Db, OutboxRow } from '../../db/schema';
import { AppError } from '../lib/errors';
import { uuidv7 } from '../lib/ids';
import type { Queues } from '../queue';
import { bumpThreads } from '../repositories/articles';
import { insertDecisions } from '../repositories/decisions';
import { insertOutbox, type NewOutboxEvent } from '../repositories/outbox';
import { publishNow } from './outbox-publisher';

export const REJECT_REASONS = [
  'spam',
  'offensive',
  'abusive',
  'harassment',
  'hate_speech',
  'off_topic',
  'other',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** The label the moderation engine learns from (see src/moderation/adaptive.ts); null teaches nothing. */
export function learningLabel(
  action: 'approve' | 'reject',
  reason: string | null,
): 'ok' | 'spam' | 'toxic' | null {
  if (action === 'approve') return 'ok';
  if (reason === 'spam') return 'spam';
  if (reason && ['offensive', 'abusive', 'harassment', 'hate_speech'].includes(reason)) return 'toxic';
  return null; // off-topic, other, banned: says nothing about the text itself
}

export type ItemOutcome =
  | { id: string; ok: true; status: CommentStatus }
  | {
      id: string;
      ok: false;
      code: 'already_decided' | 'claimed_by_other' | 'not_found' | 'comment_edited';
      message: string;
    };

export interface ActionDeps {
  db: Kysely<Database>;
  queues: Queues;
}

interface Locked {
  id: string;
  site_id: string;
  article_id: string;
  status: CommentStatus;
  reported_at: Date | null;
  claimed_by: string | null;
  claim_expires_at: Date | null;
  request_id: string | null;
  revision: number;
}

async function lockComments(trx: Db, siteId: string, ids: string[]): Promise<Map<string, Locked>> {
  if (!ids.length) return new Map();
  const rows = await trx
    .selectFrom('comments')
    .select([
      'id',
      'site_id',
      'article_id',
      'status',
      'reported_at',
      'claimed_by',
      'claim_expires_at',
      'request_id',
      'revision',
    ])
    .where('site_id', '=', siteId)
    .where('id', 'in', ids)
    .orderBy('id') // a fixed lock order, so two bulk actions cannot deadlock
    .forUpdate()
    .execute();
  return new Map(rows.map((r) => [r.id, r as Locked]));
}

/** Waiting for a human: held or pending, or published but reported by readers. */
function isOpen(row: Locked): boolean {
  return (
    row.status === 'held' || row.status === 'pending' || (row.status === 'published' && !!row.reported_at)
  );
}

function topicsFor(
  row: Locked,
  to: CommentStatus,
  base: Record<string, unknown>,
): Array<Omit<NewOutboxEvent, 'siteId'>> {
  const out: Array<Omit<NewOutboxEvent, 'siteId'>> = [];
  if (to === 'published' && row.status !== 'published') {
    out.push({ topic: 'comment.published', commentId: row.id, requestId: row.request_id, payload: base });
  }
  return out;
}

export interface DecideInput {
  siteId: string;
  ids: string[];
  action: 'approve' | 'reject';
  reasonCode?: RejectReason | 'banned' | null;
  actorId: string;
  /**
   * The status the moderator saw, for re-deciding an already decided comment from the history
   * (approve a rejected one). Without it only open items (held, pending, reported) may be decided.
   */
  expectedStatus?: CommentStatus;
  /**
   * Comment id → the revision the moderator saw. An author's edit sends the comment back to the
   * pipeline as pending, which is an open status, so without this a decision made on the old text
   * would be applied to the new one.
   */
  expectedRevisions?: Record<string, number>;
  /** Ban cascades act on the author's comments whoever holds a lease on them. */
  ignoreClaims?: boolean;
  now: Date;
}

/** Decides one or many comments; each item succeeds or fails on its own, never half-way. */
export async function decide(
  deps: ActionDeps,
  input: DecideInput,
  /** Run inside the caller's transaction; the outbox rows are added to `collect` for it to publish. */
  within?: { trx: Db; collect: OutboxRow[] },
): Promise<ItemOutcome[]> {
  const ids = [...new Set(input.ids)];
  const to: CommentStatus = input.action === 'approve' ? 'published' : 'rejected';
  const reasonCode = input.action === 'reject' ? (input.reasonCode ?? 'other') : null;
  const label = learningLabel(input.action, reasonCode);
  let outbox: OutboxRow[] = [];

  const run = async (trx: Db) => {
    const locked = await lockComments(trx, input.siteId, ids);
    const results: ItemOutcome[] = [];
    const won: Locked[] = [];
    for (const id of ids) {
      const row = locked.get(id);
      if (!row) {
        results.push({ id, ok: false, code: 'not_found', message: 'No such comment on this site' });
        continue;
      }
      const saw = input.expectedRevisions?.[id];
      if (saw !== undefined && saw !== row.revision) {
        results.push({
          id,
          ok: false,
          code: 'comment_edited',
          message: 'Its author edited this comment since you opened it: read the new text first',
        });
        continue;
      }
      // A client that does not know about edits would publish a rewritten text unread: approving
      // an edited comment takes the revision read. Rejecting unread is safe, and ban cascades do it.
      if (saw === undefined && input.action === 'approve' && row.revision > 0) {
        results.push({
          id,
          ok: false,
          code: 'comment_edited',
          message:
            'Its author has edited this comment: send expectedRevision, the revision whose text you read, to approve it',
        });
        continue;
      }
      // A deleted comment (by its author, or erased) is gone for good: its text is empty, and
      // approving it from the history would publish a blank where the author asked for nothing.
      const decidable =
        row.status !== 'deleted' &&
        (input.expectedStatus ? row.status === input.expectedStatus : isOpen(row));
      // Approving a reported, published comment dismisses the reports; that is a decision too.
      const noop = row.status === to && !(to === 'published' && row.reported_at);
      if (!decidable || noop) {
        results.push({
          id,
          ok: false,
          code: 'already_decided',
          message: `Someone already decided this comment (it is now ${row.status})`,
        });
        continue;
      }
      const leased = row.claimed_by && row.claim_expires_at && row.claim_expires_at > input.now;
      if (!input.ignoreClaims && leased && row.claimed_by !== input.actorId) {
        results.push({
          id,
          ok: false,
          code: 'claimed_by_other',
          message: 'Another moderator is working on this comment right now',
        });
        continue;
      }
      won.push(row);
      results.push({ id, ok: true, status: to });
    }
    if (!won.length) return results;

    await trx
      .updateTable('comments')
      .set({
        status: to,
        decided_at: input.now,
        updated_at: input.now,
        reported_at: null,
        claimed_by: null,
        claim_expires_at: null,
      })
      .where(
        'id',
        'in',
        won.map((w) => w.id),
      )
      .execute();
    await insertDecisions(
      trx,
      won.map((w) => ({
        commentId: w.id,
        siteId: input.siteId,
        actorType: 'moderator',
        actorId: input.actorId,
        action: input.action,
        fromStatus: w.status,
        toStatus: to,
        reasonCode,
        // A reported comment's dismissal is recorded so undo can put it back in the queue.
        reasons: w.reported_at
          ? [{ rule: 'reports', code: 'reports_reviewed', message: 'Reader reports reviewed' }]
          : [],
      })),
    );
    const events: NewOutboxEvent[] = [];
    const deltas = new Map<string, number>();
    for (const w of won) {
      const base = { articleId: w.article_id, actor: 'moderator', actorId: input.actorId, reasonCode };
      events.push({
        topic: input.action === 'approve' ? 'comment.approved' : 'comment.rejected',
        siteId: input.siteId,
        commentId: w.id,
        requestId: w.request_id,
        payload: { ...base, label, fromStatus: w.status, toStatus: to },
      });
      for (const e of topicsFor(w, to, base)) events.push({ ...e, siteId: input.siteId });
      const d = (to === 'published' ? 1 : 0) - (w.status === 'published' ? 1 : 0);
      if (d) deltas.set(w.article_id, (deltas.get(w.article_id) ?? 0) + d);
    }
    outbox = await insertOutbox(trx, events);
    await bumpThreads(trx, deltas);
    return results;
  };

  if (within) {
    const results = await run(within.trx);
    within.collect.push(...outbox);
    return results;
  }
  const results = await deps.db.transaction().execute(run);
  void publishNow(deps.db, deps.queues, outbox);
  return results;
}

/** A single-item action: its failure becomes the HTTP error. */
export function expectOne(results: ItemOutcome[]): ItemOutcome & { ok: true } {
  const r = results[0];
  if (!r) throw AppError.notFound('Comment');
  if (r.ok) return r;
  if (r.code === 'not_found') throw AppError.notFound('Comment');
  throw new AppError(409, r.code, r.message);
}

/**
 * Undoes the latest decision on a comment if it is the caller's own (or the caller is an admin),
 * still within the window, and nothing changed since. Appends an `undo` row: the audit keeps both.
 */
export async function undo(
  deps: ActionDeps,
  input: {
    siteId: string;
    commentId: string;
    actorId: string;
    isAdmin: boolean;
    windowSeconds: number;
    now: Date;
  },
): Promise<{ id: string; status: CommentStatus }> {
  let outbox: OutboxRow[] = [];
  const result = await deps.db.transaction().execute(async (trx) => {
    const row = (await lockComments(trx, input.siteId, [input.commentId])).get(input.commentId);
    if (!row) throw AppError.notFound('Comment');
    const last = await trx
      .selectFrom('moderation_decisions')
      .selectAll()
      .where('comment_id', '=', input.commentId)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (last?.actor_type !== 'moderator' || last.action === 'undo') {
      throw new AppError(409, 'already_decided', 'There is no moderator decision to undo on this comment');
    }
    if (last.actor_id !== input.actorId && !input.isAdmin) {
      // Not a conflict of state but of who asks: the same request from the right person succeeds.
      throw new AppError(403, 'forbidden', 'Only the moderator who decided this (or an admin) can undo it');
    }
    if (input.now.getTime() - last.created_at.getTime() > input.windowSeconds * 1000) {
      throw new AppError(
        409,
        'undo_expired',
        `Decisions can be undone for ${input.windowSeconds} seconds only`,
      );
    }
    if (row.status !== last.to_status) {
      throw new AppError(409, 'already_decided', `This comment changed since (it is now ${row.status})`);
    }
    const back = last.from_status as CommentStatus;
    const wasReported =
      Array.isArray(last.reasons) &&
      last.reasons.some((r) => (r as { code?: string })?.code === 'reports_reviewed');
    await trx
      .updateTable('comments')
      .set({
        status: back,
        decided_at: back === 'held' || back === 'pending' ? null : input.now,
        updated_at: input.now,
        reported_at: wasReported ? input.now : null,
        // The undoer keeps the item, so they can decide it again at once.
        claimed_by: input.actorId,
        claim_expires_at: new Date(input.now.getTime() + 60_000),
      })
      .where('id', '=', row.id)
      .execute();
    await insertDecisions(trx, [
      {
        commentId: row.id,
        siteId: input.siteId,
        actorType: 'moderator',
        actorId: input.actorId,
        action: 'undo',
        fromStatus: row.status,
        toStatus: back,
        reasonCode: 'undo',
        reasons: [{ rule: 'undo', code: 'undo', message: `Undid ${last.action} (decision ${last.id})` }],
      },
    ]);
    const base = {
      articleId: row.article_id,
      actor: 'moderator',
      actorId: input.actorId,
      reasonCode: 'undo',
    };
    const events: NewOutboxEvent[] = [
      {
        topic: 'comment.undone',
        siteId: input.siteId,
        commentId: row.id,
        requestId: row.request_id,
        payload: {
          ...base,
          undoneAction: last.action,
          undoneDecisionId: String(last.id),
          undoneLabel: learningLabel(last.action as 'approve' | 'reject', last.reason_code),
          fromStatus: row.status,
          toStatus: back,
        },
      },
    ];
    for (const e of topicsFor(row, back, base)) events.push({ ...e, siteId: input.siteId });
    outbox = await insertOutbox(trx, events);
    const d = (back === 'published' ? 1 : 0) - (row.status === 'published' ? 1 : 0);
    if (d) await bumpThreads(trx, new Map([[row.article_id, d]]));
    return { id: row.id, status: back };
  });
  void publishNow(deps.db, deps.queues, outbox);
  return result;
}

export interface BanInput {
  siteId: string;
  commentId: string;
  by: 'email' | 'ip';
  /** null or absent: for good. */
  durationHours?: number | null;
  reason?: string | null;
  rejectPending: boolean;
  actorId: string;
  now: Date;
}

/** Bans the author of a comment by their email hash or IP hash; optionally rejects what they have waiting. */
export async function ban(deps: ActionDeps, input: BanInput) {
  let outbox: OutboxRow[] = [];
  const out = await deps.db.transaction().execute(async (trx) => {
    const c = await trx
      .selectFrom('comments')
      .select(['id', 'email_hash', 'ip_hash'])
      .where('site_id', '=', input.siteId)
      .where('id', '=', input.commentId)
      .executeTakeFirst();
    if (!c) throw AppError.notFound('Comment');
    const value = input.by === 'email' ? c.email_hash : c.ip_hash;
    if (!value) {
      throw new AppError(
        422,
        'validation_failed',
        input.by === 'email'
          ? 'This comment has no email to ban by'
          : 'This comment has no IP hash to ban by (purged or never recorded)',
        { errors: [{ path: 'by', message: `no ${input.by} recorded` }] },
      );
    }
    const id = uuidv7();
    const expiresAt = input.durationHours
      ? new Date(input.now.getTime() + input.durationHours * 3_600_000)
      : null;
    await trx
      .insertInto('bans')
      .values({
        id,
        site_id: input.siteId,
        kind: input.by,
        value_hash: value,
        reason: input.reason ?? null,
        source_comment_id: c.id,
        created_by: input.actorId,
        expires_at: expiresAt,
      })
      .execute();
    outbox = await insertOutbox(trx, [
      {
        topic: 'author.banned',
        siteId: input.siteId,
        commentId: c.id,
        payload: {
          banId: id,
          kind: input.by,
          expiresAt: expiresAt?.toISOString() ?? null,
          actor: 'moderator',
          actorId: input.actorId,
        },
      },
    ]);
    let rejected: string[] = [];
    if (input.rejectPending) {
      const col = input.by === 'email' ? 'email_hash' : 'ip_hash';
      const waiting = await trx
        .selectFrom('comments')
        .select('id')
        .where('site_id', '=', input.siteId)
        .where(col, '=', value)
        .where('status', 'in', ['held', 'pending'])
        .execute();
      const results = await decide(
        deps,
        {
          siteId: input.siteId,
          ids: waiting.map((w) => w.id),
          action: 'reject',
          reasonCode: 'banned',
          actorId: input.actorId,
          ignoreClaims: true,
          now: input.now,
        },
        { trx, collect: outbox },
      );
      rejected = results.filter((r) => r.ok).map((r) => r.id);
    }
    return { id, kind: input.by, expiresAt: expiresAt?.toISOString() ?? null, rejected };
  });
  void publishNow(deps.db, deps.queues, outbox);
  return out;
}

export async function listBans(db: Db, siteId: string, now: Date) {
  const rows = await db
    .selectFrom('bans')
    .select([
      'id',
      'kind',
      'reason',
      'source_comment_id',
      'created_by',
      'created_at',
      'expires_at',
      'revoked_at',
    ])
    .where('site_id', '=', siteId)
    .orderBy('created_at', 'desc')
    .limit(500)
    .execute();
  return rows.map((b) => ({
    id: b.id,
    kind: b.kind,
    reason: b.reason,
    sourceCommentId: b.source_comment_id,
    createdBy: b.created_by,
    createdAt: b.created_at.toISOString(),
    expiresAt: b.expires_at?.toISOString() ?? null,
    active: !b.revoked_at && (!b.expires_at || b.expires_at > now),
  }));
}

export async function revokeBan(db: Db, siteId: string, banId: string): Promise<boolean> {
  const r = await db
    .updateTable('bans')
    .set({ revoked_at: new Date() })
    .where('id', '=', banId)
    .where('site_id', '=', siteId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
