/** The append-only audit of every decision on a comment. */
import { sql } from 'kysely';
import type { ActorType, Db } from '../../db/schema';
import { type AnnouncedRow, asPublicationBatch, deleteBatches, deletingBatches } from './outbox';

export interface NewDecision {
  commentId: string;
  siteId: string;
  actorType: ActorType;
  actorId?: string | null;
  action: string;
  fromStatus: string;
  toStatus: string;
  reasonCode?: string | null;
  reasons?: unknown[];
  scores?: Record<string, number>;
  policyVersion?: number | null;
  /** The comment's revision it was made on (see comment edits); 0 when left out. */
  revision?: number;
}

export async function insertDecisions(db: Db, decisions: NewDecision[]): Promise<void> {
  if (!decisions.length) return;
  await db
    .insertInto('moderation_decisions')
    .values(
      decisions.map((d) => ({
        comment_id: d.commentId,
        site_id: d.siteId,
        actor_type: d.actorType,
        actor_id: d.actorId ?? null,
        action: d.action,
        from_status: d.fromStatus,
        to_status: d.toStatus,
        reason_code: d.reasonCode ?? null,
        reasons: JSON.stringify(d.reasons ?? []),
        scores: JSON.stringify(d.scores ?? {}),
        policy_version: d.policyVersion ?? null,
        revision: d.revision ?? 0,
      })),
    )
    .execute();
}

export async function decisionsFor(db: Db, commentId: string) {
  return db
    .selectFrom('moderation_decisions')
    .selectAll()
    .where('comment_id', '=', commentId)
    .orderBy('id')
    .execute();
}

export interface SystemDecisionWrite {
  commentId: string;
  to: 'published' | 'held' | 'rejected';
  action: string;
  reasonCode: string | null;
  reasons: unknown[];
  scores: Record<string, number>;
  policyVersion: number | null;
  /**
   * The revision of the text the pipeline read. An author's edit of a still-pending comment keeps
   * it pending, so the status alone would let a decision on the old text stand for the new one.
   */
  revision?: number;
  /**
   * The outbox row announcing it. The statement builds its payload from the comment and the fields
   * above, so the reasons are sent once: the comment's article, the decisive code, the policy
   * version and the reasons that counted (shadow verdicts left out), each cut to rule, category,
   * code, score and message.
   */
  topic: string;
}

/**
 * The moderate worker's whole write for a batch, as ONE statement (so one round trip and its own
 * transaction): move each still-pending comment to its outcome (a compare-and-set: a comment a
 * moderator or an earlier run already decided is left alone), and for exactly those comments append
 * the audit row and the outbox row, and bump the thread version of articles that gained a
 * published comment. Returns the outbox rows written; their comment ids are the comments decided.
 * Ids must be unique within the batch.
 */
export async function recordSystemDecisions(
  db: Db,
  writes: SystemDecisionWrite[],
  /** Publication batches to delete in passing (see CoalescingPublisher.carryingMarks). */
  deleting: readonly string[] = [],
): Promise<AnnouncedRow[]> {
  if (!writes.length) {
    await deleteBatches(db, deleting);
    return [];
  }
  // The batch goes in as one JSON document: the JSON-valued fields need no array-literal escaping
  // (which cost more client CPU than the rest of the statement) and the text stays the same.
  // Parsing that document is most of the statement's bind time, so the webhook payload is not in
  // it: the statement builds it from the reasons it already has.
  const doc = JSON.stringify(
    writes.map((w, ord) => ({
      id: w.commentId,
      // The compare-and-set's expected status: the pipeline only decides comments it read pending.
      from_status: 'pending',
      to_status: w.to,
      action: w.action,
      reason_code: w.reasonCode,
      reasons: w.reasons,
      scores: w.scores,
      policy_version: w.policyVersion,
      revision: w.revision ?? null,
      topic: w.topic,
      ord,
    })),
  );
  const res = await sql<AnnouncedRow>`
    with v as (
      select * from jsonb_to_recordset(${doc}::jsonb) as v(
        id uuid, from_status text, to_status text, action text, reason_code text, reasons jsonb, scores jsonb,
        policy_version int, revision int, topic text, ord int)
    ),
    upd as (
      update comments c set status = v.to_status, decided_at = now(), updated_at = now()
      from v
      -- Found by primary key (the id array gives the planner the row count). The status is checked
      -- as a join key against v, not as a condition on comments alone: as a condition, with a
      -- backlog the planner scanned the whole pending index each batch, and written so that it
      -- could not (as "(status = 'pending') is true") it guessed one row and joined v by a nested
      -- loop over the whole batch for each comment, a third of the statement's time at 100
      -- comments. As a join key it hashes v and probes it once per comment.
      where c.id = v.id and c.id = any(${writes.map((w) => w.commentId)}::uuid[])
        and c.status = v.from_status
        and (v.revision is null or c.revision = v.revision)
      returning c.id, c.site_id, c.article_id, c.request_id, c.status, c.revision
    ),
    audit as (
      insert into moderation_decisions
        (comment_id, site_id, actor_type, action, from_status, to_status, reason_code, reasons, scores, policy_version,
         revision)
      select upd.id, upd.site_id, 'system', v.action, 'pending', upd.status, v.reason_code, v.reasons, v.scores,
             v.policy_version, upd.revision
      from upd join v on v.id = upd.id
    ),
    bump as (
      update articles a set published_count = a.published_count + d.n, thread_version = a.thread_version + 1
      from (select article_id, count(*)::int as n from upd where status = 'published' group by article_id) d
      where a.id = d.article_id
    ),
    ${deletingBatches(deleting)}
    ob as (
    insert into outbox (topic, site_id, comment_id, payload, request_id, batched)
    select v.topic, upd.site_id, upd.id,
           jsonb_build_object(
             'articleId', upd.article_id, 'actor', 'system', 'reasonCode', v.reason_code,
             'policyVersion', v.policy_version,
             'reasons', coalesce((
               select jsonb_agg(jsonb_build_object(
                        'rule', r.value -> 'rule', 'category', r.value -> 'category', 'code', r.value -> 'code',
                        'score', r.value -> 'score', 'message', r.value -> 'message')
                      order by r.ord)
               from jsonb_array_elements(v.reasons) with ordinality as r(value, ord)
               where (r.value -> 'shadow') is distinct from 'true'::jsonb), '[]'::jsonb)),
           upd.request_id, true
    from upd join v on v.id = upd.id
    order by v.ord
    returning *
    ),
    ${asPublicationBatch}`.execute(db);
  return res.rows;
}
