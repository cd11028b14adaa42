/**
 * Each site's adaptive model (what its moderators taught the classifier) and the labels it learned
 * from. Updates run under a row lock so concurrent learners never lose a label, and each label is
 * keyed by its outbox row so a repeated job applies it once.
 */
import { sql } from 'kysely';
import type { Db } from '../../db/schema';
import type { AdaptiveLabel } from '../../db/schema/moderation';
import { type AdaptiveState, emptyAdaptiveState, update } from '../moderation/adaptive';

export async function loadAdaptiveStates(db: Db, siteIds: string[]): Promise<Map<string, AdaptiveState>> {
  const out = new Map<string, AdaptiveState>();
  if (!siteIds.length) return out;
  const rows = await db
    .selectFrom('adaptive_models')
    .select(['site_id', 'state'])
    .where('site_id', 'in', [...new Set(siteIds)])
    .execute();
  for (const r of rows) out.set(r.site_id, r.state);
  return out;
}

export interface LabelToApply {
  outboxId: string;
  siteId: string;
  commentId: string | null;
  label: AdaptiveLabel;
  /** The comment's text; null when it is gone (erased), in which case the label is recorded only. */
  text: string | null;
}

/**
 * Applies labels to their sites' models inside the caller's transaction. Sites are locked in id
 * order (no deadlock between two batches touching the same sites), labels already applied are
 * skipped, the rest are applied in outbox order. Returns the outbox ids applied now.
 */
export async function applyLabels(trx: Db, labels: LabelToApply[]): Promise<Set<string>> {
  const applied = new Set<string>();
  const bySite = new Map<string, LabelToApply[]>();
  for (const l of labels) bySite.set(l.siteId, [...(bySite.get(l.siteId) ?? []), l]);
  for (const siteId of [...bySite.keys()].sort()) {
    const list = bySite.get(siteId)!;
    await trx
      .insertInto('adaptive_models')
      .values({ site_id: siteId, state: JSON.stringify(emptyAdaptiveState()), updates: 0 })
      .onConflict((oc) => oc.column('site_id').doNothing())
      .execute();
    const row = await trx
      .selectFrom('adaptive_models')
      .select(['state', 'last_outbox_id'])
      .where('site_id', '=', siteId)
      .forUpdate()
      .executeTakeFirstOrThrow();
    // Under the lock: whoever inserts the label row first owns it; a repeat inserts nothing.
    const fresh = await trx
      .insertInto('adaptive_labels')
      .values(
        list.map((l) => ({
          outbox_id: l.outboxId,
          site_id: siteId,
          comment_id: l.commentId,
          label: l.label,
        })),
      )
      .onConflict((oc) => oc.column('outbox_id').doNothing())
      .returning('outbox_id')
      .execute();
    const isFresh = new Set(fresh.map((r) => String(r.outbox_id)));
    const todo = list
      .filter((l) => isFresh.has(l.outboxId))
      .sort((a, b) => (BigInt(a.outboxId) < BigInt(b.outboxId) ? -1 : 1));
    if (!todo.length) continue;
    let state = row.state;
    for (const l of todo) {
      if (l.text !== null) state = update(state, l.text, l.label);
      applied.add(l.outboxId);
    }
    const last = todo.reduce(
      (m, l) => (BigInt(l.outboxId) > m ? BigInt(l.outboxId) : m),
      BigInt(row.last_outbox_id ?? 0),
    );
    await trx
      .updateTable('adaptive_models')
      .set({
        state: JSON.stringify(state),
        updates: state.updates,
        last_outbox_id: last.toString(),
        updated_at: sql`now()`,
      })
      .where('site_id', '=', siteId)
      .execute();
  }
  return applied;
}

/** Comment bodies for the learner (one query per batch). */
export async function bodiesFor(db: Db, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!ids.length) return out;
  const rows = await db.selectFrom('comments').select(['id', 'body']).where('id', 'in', ids).execute();
  for (const r of rows) out.set(r.id, r.body);
  return out;
}
