/** The append-only audit of every decision on a comment. */
import type { Db } from '../../db/schema';

export interface NewDecision {
  commentId: string;
  siteId: string;
  actorType: 'system' | 'moderator';
  actorId?: string | null;
  action: string;
  fromStatus: string;
  toStatus: string;
  reasonCode?: string | null;
  reasons?: unknown[];
  scores?: Record<string, number>;
  policyVersion?: number | null;
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
