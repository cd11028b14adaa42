/**
 * What a reader can do to their own comment without an account: delete it, or edit it for a while
 * after posting, proven by the author token the submission's 202 carried (src/lib/crypto.ts,
 * authorToken). Each is one transaction, as a moderator's action is: lock the row, change it,
 * append the audit row (actor 'author'), write the outbox row and move the thread's version and
 * count.
 */
import type { Kysely, Selectable, Transaction } from 'kysely';
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

type Deps = { db: Kysely<Database>; queues: Queues };
type Trx = Transaction<Database>;

/** What an author action reads of its comment. */
const OWN_COLUMNS = ['id', 'article_id', 'status', 'body', 'created_at', 'edited_at', 'revision'] as const;

/**
 * One author action: the site's comment locked FOR UPDATE and handed to `act` in a transaction,
 * whose outbox rows are published after commit. Undefined when the site has no such comment.
 */
async function onOwnComment<R>(
  deps: Deps,
  input: { siteId: string; commentId: string },
  act: (
    trx: Trx,
    row: Pick<Selectable<Database['comments']>, (typeof OWN_COLUMNS)[number]>,
    outbox: OutboxRow[],
  ) => Promise<R>,
): Promise<R | undefined> {
  const outbox: OutboxRow[] = [];
  const result = await deps.db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('comments')
      .select(OWN_COLUMNS)
      .where('site_id', '=', input.siteId)
      .where('id', '=', input.commentId)
      .forUpdate()
      .executeTakeFirst();
    return row ? act(trx, row, outbox) : undefined;
  });
  void publishNow(deps.db, deps.queues, outbox);
  return result;
}

/** The audit row (actor 'author') and the event of an author action, both in `trx`. */
async function recordAuthorAction(
  trx: Trx,
  outbox: OutboxRow[],
  e: {
    siteId: string;
    row: { id: string; article_id: string; status: CommentStatus };
    action: 'withdraw' | 'edit';
    toStatus: CommentStatus;
    reasonCode: string;
    topic: 'comment.deleted' | 'comment.edited';
    requestId?: string | null;
    revision?: number;
  },
): Promise<void> {
  await insertDecisions(trx, [
    {
      commentId: e.row.id,
      siteId: e.siteId,
      actorType: 'author',
      action: e.action,
      fromStatus: e.row.status,
      toStatus: e.toStatus,
      reasonCode: e.reasonCode,
      revision: e.revision,
    },
  ]);
  outbox.push(
    ...(await insertOutbox(trx, [
      {
        topic: e.topic,
        siteId: e.siteId,
        commentId: e.row.id,
        requestId: e.requestId ?? null,
        payload: {
          articleId: e.row.article_id,
          actor: 'author',
          reasonCode: e.reasonCode,
          fromStatus: e.row.status,
          ...(e.revision === undefined ? {} : { revision: e.revision }),
        },
      },
    ])),
  );
}

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
export async function withdraw(deps: Deps, input: WithdrawInput): Promise<Withdrawn | undefined> {
  return onOwnComment(deps, input, async (trx, row, outbox) => {
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
    await recordAuthorAction(trx, outbox, {
      siteId: input.siteId,
      row,
      action: 'withdraw',
      toStatus: 'deleted',
      reasonCode: WITHDRAWN,
      topic: 'comment.deleted',
      requestId: input.requestId,
    });
    // A pending comment was never on a page (and cannot have replies: a reply needs a published
    // parent). Anything else may be, or may have replies that now sit under its tombstone.
    if (row.status !== 'pending') {
      await bumpThreads(trx, new Map([[row.article_id, row.status === 'published' ? -1 : 0]]));
    }
    return done;
  });
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
export async function edit(deps: Deps, input: EditInput): Promise<Edited | undefined> {
  return onOwnComment(deps, input, async (trx, row, outbox): Promise<Edited> => {
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
    await recordAuthorAction(trx, outbox, {
      siteId: input.siteId,
      row,
      action: 'edit',
      toStatus: 'pending',
      reasonCode: EDITED,
      // Routed to the webhooks and to a moderate job of its own (src/services/outbox-routes.ts).
      topic: 'comment.edited',
      requestId: input.requestId,
      revision,
    });
    // Only a published comment was on a page; it leaves it until its new text is published.
    if (row.status === 'published') await bumpThreads(trx, new Map([[row.article_id, -1]]));
    return { ...base, status: 'pending', editedAt: input.now, revision, changed: true };
  });
}
