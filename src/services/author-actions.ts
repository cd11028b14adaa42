/**
 * What a reader can do to their own comment without an account: delete it, or edit it for a while
 * after posting, proven by the author token the submission's 202 carried (src/lib/crypto.ts,
 * authorToken). Each is one transaction, as a moderator's action is: lock the row, change it,
 * append the audit row (actor 'author'), write the outbox row and move the thread's version and
 * count.
 */
import type { Kysely } from 'kysely';
import type { CommentStatus, Database, OutboxRow } from '../../db/schema';
import { AppError } from '../lib/errors';
import type { Queues } from '../queue';
import { bumpThreads } from '../repositories/articles';
import { insertDecisions } from '../repositories/decisions';
import { fingerprintColumns } from '../repositories/duplicates';
import { insertOutbox } from '../repositories/outbox';
import { publishNow } from './outbox-publisher';

/** The reason code of an author's own deletion, in the audit and the comment.deleted event. */
export const WITHDRAWN = 'withdrawn';

export interface WithdrawInput {
  siteId: string;
  commentId: string;
  requestId?: string | null;
  now: Date;
}

export interface Withdrawn {
  id: string;
  status: 'deleted';
  /** The status it had; 'deleted' when it was already gone (a repeated request changes nothing). */
  from: CommentStatus;
}

/**
 * Deletes a comment at its author's request, whatever its status. Undefined when the site has no
 * such comment. The caller has checked the author token.
 *
 * - pending: the moderate worker's compare-and-set (`status = 'pending'`) waits for this row lock
 *   and then finds nothing to decide, so the comment is never published.
 * - held or reported: the claim and the reported mark are cleared, so the queues drop it; a
 *   moderator deciding it later gets 409 already_decided.
 * - published: the published count goes down and the thread version moves, so cached pages and
 *   counts drop it within THREAD_CACHE_MS.
 */
export async function withdraw(
  deps: { db: Kysely<Database>; queues: Queues },
  input: WithdrawInput,
): Promise<Withdrawn | undefined> {
  let outbox: OutboxRow[] = [];
  const result = await deps.db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('comments')
      .select(['id', 'article_id', 'status'])
      .where('site_id', '=', input.siteId)
      .where('id', '=', input.commentId)
      .forUpdate()
      .executeTakeFirst();
    if (!row) return undefined;
    const done: Withdrawn = { id: row.id, status: 'deleted', from: row.status };
    if (row.status === 'deleted') return done;
    await trx
      .updateTable('comments')
      .set({
        status: 'deleted',
        // The reader asked for it to be gone: the text goes now, not at the next retention pass.
        body: '',
        decided_at: input.now,
        updated_at: input.now,
        reported_at: null,
        claimed_by: null,
        claim_expires_at: null,
      })
      .where('id', '=', row.id)
      .execute();
    // The texts its edits replaced go with it.
    await trx.deleteFrom('comment_revisions').where('comment_id', '=', row.id).execute();
    await insertDecisions(trx, [
      {
        commentId: row.id,
        siteId: input.siteId,
        actorType: 'author',
        action: 'withdraw',
        fromStatus: row.status,
        toStatus: 'deleted',
        reasonCode: WITHDRAWN,
      },
    ]);
    outbox = await insertOutbox(trx, [
      {
        topic: 'comment.deleted',
        siteId: input.siteId,
        commentId: row.id,
        requestId: input.requestId ?? null,
        payload: {
          articleId: row.article_id,
          actor: 'author',
          reasonCode: WITHDRAWN,
          fromStatus: row.status,
        },
      },
    ]);
    // A pending comment was never on a page (and cannot have replies: a reply needs a published
    // parent). Anything else may be, or may have replies that now sit under its tombstone.
    if (row.status !== 'pending') {
      await bumpThreads(trx, new Map([[row.article_id, row.status === 'published' ? -1 : 0]]));
    }
    return done;
  });
  void publishNow(deps.db, deps.queues, outbox);
  return result;
}

/** The reason code of an author's edit, in the audit and the comment.edited event. */
export const EDITED = 'edited';

/** The statuses an author may still edit from: not decided against, not deleted. */
const EDITABLE: ReadonlySet<CommentStatus> = new Set(['pending', 'held', 'published']);

export interface EditInput {
  siteId: string;
  commentId: string;
  body: string;
  /** The site's policy.editWindowSeconds: how long after posting; 0 is no editing at all. */
  windowSeconds: number;
  requestId?: string | null;
  now: Date;
}

export interface Edited {
  id: string;
  status: CommentStatus;
  createdAt: Date;
  editedAt: Date | null;
  revision: number;
  /** False when the text was the same as the current one: nothing was written. */
  changed: boolean;
}

/**
 * Replaces a comment's text at its author's request and sends it back to moderation. Undefined
 * when the site has no such comment (the caller has checked the author token). Refused with 409:
 * a comment rejected or deleted (`not_editable`), past the site's window (`edit_window_closed`),
 * or with any reply not deleted (`has_replies`: others answered what it said).
 *
 * The comment goes back to pending with its new text, fingerprint and revision: the old text goes
 * to comment_revisions for moderators; a published one leaves the thread and its count (thread
 * version moved) until the moderate worker, run by the comment.edited outbox row's job, decides
 * the new text; a held one leaves the queues, and a moderator deciding it with the revision they
 * saw gets 409 comment_edited. The worker's own compare-and-set checks the revision too, so a
 * decision on the old text being written as this runs is refused.
 */
export async function edit(
  deps: { db: Kysely<Database>; queues: Queues },
  input: EditInput,
): Promise<Edited | undefined> {
  let outbox: OutboxRow[] = [];
  const result = await deps.db.transaction().execute(async (trx): Promise<Edited | undefined> => {
    const row = await trx
      .selectFrom('comments')
      .select(['id', 'article_id', 'status', 'body', 'created_at', 'edited_at', 'revision'])
      .where('site_id', '=', input.siteId)
      .where('id', '=', input.commentId)
      .forUpdate()
      .executeTakeFirst();
    if (!row) return undefined;
    const base = { id: row.id, createdAt: row.created_at, editedAt: row.edited_at, revision: row.revision };
    if (!EDITABLE.has(row.status)) {
      throw new AppError(409, 'not_editable', `This comment can no longer be edited (it is ${row.status})`);
    }
    // The same text again (a retry after a lost answer) changes nothing, whatever the clock says.
    if (row.body === input.body) return { ...base, status: row.status, changed: false };
    const until = row.created_at.getTime() + input.windowSeconds * 1000;
    if (input.windowSeconds <= 0 || input.now.getTime() > until) {
      throw new AppError(
        409,
        'edit_window_closed',
        input.windowSeconds <= 0
          ? 'Comments cannot be edited on this site'
          : `Comments can be edited for ${input.windowSeconds} seconds after posting`,
        { editableUntil: input.windowSeconds > 0 ? new Date(until).toISOString() : null },
      );
    }
    // A reply being inserted takes a key-share lock on this row (its foreign key), which the lock
    // above waits for, so a reply committed before this reads is always seen here.
    const reply = await trx
      .selectFrom('comments')
      .select('id')
      .where('parent_id', '=', row.id)
      .where('status', '<>', 'deleted')
      .limit(1)
      .executeTakeFirst();
    if (reply) {
      throw new AppError(
        409,
        'has_replies',
        'Someone has replied to this comment, so it can no longer be edited',
      );
    }
    const revision = row.revision + 1;
    await trx
      .insertInto('comment_revisions')
      .values({
        comment_id: row.id,
        site_id: input.siteId,
        revision: row.revision,
        body: row.body,
        created_at: row.edited_at ?? row.created_at,
        replaced_at: input.now,
      })
      .execute();
    await trx
      .updateTable('comments')
      .set({
        body: input.body,
        ...fingerprintColumns(input.body),
        edited_at: input.now,
        revision,
        status: 'pending',
        decided_at: null,
        updated_at: input.now,
        // Claims and reports were about the old text; the new one starts from the pipeline.
        reported_at: null,
        claimed_by: null,
        claim_expires_at: null,
      })
      .where('id', '=', row.id)
      .execute();
    await insertDecisions(trx, [
      {
        commentId: row.id,
        siteId: input.siteId,
        actorType: 'author',
        action: 'edit',
        fromStatus: row.status,
        toStatus: 'pending',
        reasonCode: EDITED,
        revision,
      },
    ]);
    // Routed to the webhooks and to a moderate job of its own (src/services/outbox-routes.ts).
    outbox = await insertOutbox(trx, [
      {
        topic: 'comment.edited',
        siteId: input.siteId,
        commentId: row.id,
        requestId: input.requestId ?? null,
        payload: {
          articleId: row.article_id,
          actor: 'author',
          reasonCode: EDITED,
          fromStatus: row.status,
          revision,
        },
      },
    ]);
    // Only a published comment was on a page; it leaves it until its new text is published.
    if (row.status === 'published') await bumpThreads(trx, new Map([[row.article_id, -1]]));
    return { ...base, status: 'pending', editedAt: input.now, revision, changed: true };
  });
  void publishNow(deps.db, deps.queues, outbox);
  return result;
}
