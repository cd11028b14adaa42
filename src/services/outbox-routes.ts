/**
 * Which queue jobs each outbox topic becomes. Job ids are derived from the row so relaying a row
 * twice (eager publish and relay racing, or a relay crash before marking) adds each job once.
 */
import type { OutboxRow } from '../../db/schema';
import {
  MODERATE_JOB_MAX_COMMENTS,
  type ModerateJobComment,
  type ModerationHint,
  moderateBatchJobId,
  moderateJobId,
  QUEUE,
  type QueueName,
} from '../queue';

export interface JobSpec {
  queue: QueueName;
  name: string;
  data: Record<string, unknown>;
  jobId: string;
}

export type OutboxRoute = (row: OutboxRow) => JobSpec[];

/**
 * A reader edited their comment: its new text is moderated again from scratch, by a job of its own
 * named after the revision (the first job's id may still exist, and BullMQ would ignore it).
 */
const moderateEdit: OutboxRoute = (row) => {
  const revision = Number((row.payload as { revision?: unknown }).revision);
  if (!row.comment_id || !Number.isInteger(revision) || revision < 1) return [];
  const data: ModerateJobComment = { commentId: row.comment_id, requestId: row.request_id ?? null };
  return [
    {
      queue: QUEUE.moderate,
      name: 'moderate',
      data: { ...data },
      jobId: moderateJobId(row.comment_id, revision),
    },
  ];
};

const routes: Record<string, OutboxRoute[]> = { 'comment.edited': [moderateEdit] };

/**
 * Hints the API attached to the outbox rows it has just written (see ModerationHint). Kept beside
 * the rows rather than in them: they are never stored, and a row the relay reads back from
 * Postgres simply has none.
 */
const hints = new WeakMap<OutboxRow, ModerationHint>();

export function attachModerationHint(row: OutboxRow, hint: ModerationHint): void {
  hints.set(row, hint);
}

/**
 * `comment.submitted` rows published together become moderate jobs of up to
 * MODERATE_JOB_MAX_COMMENTS comments each (see ModerateJob), in outbox order.
 */
function moderateJobs(rows: OutboxRow[]): JobSpec[] {
  const submitted = rows.filter((r) => r.topic === 'comment.submitted' && r.comment_id);
  const jobs: JobSpec[] = [];
  for (let i = 0; i < submitted.length; i += MODERATE_JOB_MAX_COMMENTS) {
    const chunk = submitted.slice(i, i + MODERATE_JOB_MAX_COMMENTS);
    const [first, ...rest] = chunk.map((r): ModerateJobComment => {
      const c: ModerateJobComment = { commentId: r.comment_id!, requestId: r.request_id ?? null };
      const hint = hints.get(r);
      if (hint) c.hint = hint;
      return c;
    });
    jobs.push({
      queue: QUEUE.moderate,
      name: 'moderate',
      data: rest.length ? { ...first!, more: rest } : { ...first! },
      jobId: moderateBatchJobId(chunk.map((r) => r.comment_id!)),
    });
  }
  return jobs;
}

/** Routes applied to every topic (for example the webhook fan-out). */
const everyTopic: OutboxRoute[] = [];

export function registerOutboxRoute(topic: string | '*', route: OutboxRoute): void {
  if (topic === '*') {
    everyTopic.push(route);
    return;
  }
  routes[topic] ??= [];
  routes[topic].push(route);
}

export function jobsFor(row: OutboxRow): JobSpec[] {
  return [...(routes[row.topic] ?? []), ...everyTopic].flatMap((r) => r(row));
}

/**
 * Routes that see all the rows published together and may turn them into fewer jobs (the webhook
 * fan-out: one job per batch of rows instead of one per row). A row can reach such a route twice
 * in different batches (eager publish and relay racing), so their processors must be idempotent.
 */
export type OutboxBatchRoute = (rows: OutboxRow[]) => JobSpec[];

const batchRoutes: OutboxBatchRoute[] = [moderateJobs];

export function registerOutboxBatchRoute(route: OutboxBatchRoute): void {
  batchRoutes.push(route);
}

/** Every job for rows published together: the per-row routes' and the batch routes'. */
export function jobsForRows(rows: OutboxRow[]): JobSpec[] {
  const jobs = rows.flatMap(jobsFor);
  for (const route of batchRoutes) jobs.push(...route(rows));
  return jobs;
}
