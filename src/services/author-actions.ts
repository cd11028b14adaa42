/**
 * What a reader can do to their own comment without an account: delete it, proven by the author
 * token the submission's 202 carried (src/lib/crypto.ts, authorToken). One transaction, as a
 * moderator's action is: lock the row, empty and delete it, append the audit row (actor 'author'),
 * write the comment.deleted outbox row and move the thread's version and count.
 */
import type { Kysely } from 'kysely';
import type { CommentStatus, Database, OutboxRow } from '../../db/schema';
import type { Queues } from '../queue';
import { bumpThreads } from '../repositories/articles';
import { insertDecisions } from '../repositories/decisions';
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
