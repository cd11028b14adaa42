/**
 * The `moderate` job: load the comment, run the pure pipeline, record the outcome with a
 * compare-and-set. Concurrent jobs share their database round trips (one load and one write
 * statement per batch), and a job that runs twice changes nothing the second time.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import { createBatcher } from '../src/lib/batcher';
import { runPipeline } from '../src/moderation/pipeline';
import type { ModerationDecision, Outcome, Rule } from '../src/moderation/types';
import type { ModerateJobComment, Queues } from '../src/queue';
import { loadForModeration, type ModerationRow } from '../src/repositories/comments';
import { recordSystemDecisions } from '../src/repositories/decisions';
import { createCoalescingPublisher } from '../src/services/publish-coalescer';
import type { SiteCache } from '../src/services/site-cache';
import {
  type ContextOptions,
  createContextParts,
  type Lookups,
  lookupKeyFromHint,
  toCommentInput,
} from './moderation-context';

export const STATUS_FOR: Record<Outcome, 'published' | 'held' | 'rejected'> = {
  publish: 'published',
  hold: 'held',
  reject: 'rejected',
};
const TOPIC_FOR: Record<Outcome, string> = {
  publish: 'comment.published',
  hold: 'comment.held',
  reject: 'comment.rejected',
};

export interface ModerateDeps {
  db: Kysely<Database>;
  queues: Queues;
  sites: SiteCache;
  rules: readonly Rule[];
  now: () => Date;
  maxBatch?: number;
  /** Velocity counters, duplicate window, adaptive models (see moderation-context.ts). */
  context?: ContextOptions;
  onDecided?: (info: { outcome: Outcome; decision: ModerationDecision; createdAt: Date }) => void;
}

interface PendingWrite {
  row: ModerationRow;
  decision: ModerationDecision;
}

export type ModerateResult =
  | { state: 'decided'; outcome: Outcome }
  | { state: 'skipped'; reason: 'missing' | 'already_decided' | 'lost_race' | 'unknown_site' };

/** Reasons as stored and announced: everything a moderator needs, nothing personal. */
export function publicReasons(decision: ModerationDecision) {
  return decision.verdicts.map((v) => ({ ...v }));
}

export function createModerateProcessor(deps: ModerateDeps) {
  const maxBatch = deps.maxBatch ?? 100;
  const publish = createCoalescingPublisher(deps.db, deps.queues);
  const context = createContextParts({ db: deps.db, now: deps.now, maxBatch, ...deps.context });

  const load = createBatcher<string, ModerationRow | null>(
    async (ids) => {
      const rows = await loadForModeration(deps.db, [...new Set(ids)]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    { maxBatch, maxInFlight: 2 },
  );

  const write = createBatcher<PendingWrite, boolean>(
    async (all) => {
      // The same comment twice in one batch (a duplicated job): only the first may decide it.
      const firstOf = new Map<string, PendingWrite>();
      for (const w of all) if (!firstOf.has(w.row.id)) firstOf.set(w.row.id, w);
      const items = [...firstOf.values()];
      const outbox = await publish.carryingMarks((deleting) =>
        recordSystemDecisions(
          deps.db,
          items.map((w) => ({
            commentId: w.row.id,
            to: STATUS_FOR[w.decision.outcome],
            action: w.decision.outcome,
            reasonCode: w.decision.decisive?.code ?? null,
            reasons: publicReasons(w.decision),
            scores: w.decision.scores,
            policyVersion: w.decision.policyVersion,
            revision: w.row.revision,
            topic: TOPIC_FOR[w.decision.outcome],
          })),
          deleting,
        ),
      );
      const decided = new Set(outbox.map((o) => o.comment_id));
      const applied = new Set(items.filter((w) => decided.has(w.row.id)));
      void publish(outbox);
      return all.map((w) => applied.has(w));
    },
    { maxBatch, maxInFlight: 2 },
  );

  /**
   * Lookups from the job's hint, started before the comment is read back. Only on a job's first
   * run: a retry or a re-queued comment may already be decided, and would be counted twice.
   */
  async function earlyLookups(
    c: Pick<ModerateJobComment, 'commentId' | 'hint'>,
  ): Promise<{ siteId: string; found: Lookups } | null> {
    if (!c.hint) return null;
    const site = await deps.sites.get(c.hint.siteId);
    if (!site) return null;
    return { siteId: site.id, found: await context.lookups(lookupKeyFromHint(c.commentId, c.hint), site) };
  }

  return async function moderate(job: {
    data: Pick<ModerateJobComment, 'commentId' | 'hint'>;
    /** False on a retry or a stalled job's second run: the hint is then ignored. */
    firstRun?: boolean;
  }): Promise<ModerateResult> {
    const early = job.firstRun === false ? null : earlyLookups(job.data);
    // Its failure is handled where it is awaited; until then it must not count as unhandled.
    early?.catch(() => {});
    const row = await load(job.data.commentId);
    if (!row) return { state: 'skipped', reason: 'missing' };
    if (row.status !== 'pending') return { state: 'skipped', reason: 'already_decided' };
    const site = await deps.sites.get(row.site_id);
    if (!site) return { state: 'skipped', reason: 'unknown_site' };
    const hinted = await early;
    const found = hinted?.siteId === row.site_id ? hinted.found : await context.lookups(row, site);
    const ctx = context.assemble(row, site, found);
    const decision = await runPipeline(deps.rules, toCommentInput(row), ctx);
    const applied = await write({ row, decision });
    if (!applied) return { state: 'skipped', reason: 'lost_race' };
    // An edit is timed from when it was saved, not from the comment's first posting.
    deps.onDecided?.({ outcome: decision.outcome, decision, createdAt: row.edited_at ?? row.created_at });
    return { state: 'decided', outcome: decision.outcome };
  };
}
