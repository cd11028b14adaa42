/**
 * Webhook event rows published together become one fan-out job on the `events` queue (at most
 * FANOUT_BATCH rows each), not one job per row: most sites have no endpoint, and a job per row was
 * two extra BullMQ job life cycles per comment (submitted, then decided) for nothing.
 */
import { createHash } from 'node:crypto';
import { QUEUE } from '../queue';
import { type JobSpec, registerOutboxBatchRoute } from '../services/outbox-routes';
import { isEventType } from './events';

export const FANOUT_JOB = 'webhooks.fanout';
export const FANOUT_BATCH = 500;

/** Fan-out job data: a batch of outbox row ids (`outboxId` alone: one row, as the sweep adds). */
export interface FanoutJob {
  outboxIds?: string[];
  outboxId?: string;
}

export function fanoutJobId(outboxId: string): string {
  return `whk-${outboxId}`;
}

/**
 * A stable id per batch, so relaying the same rows twice adds the job once; a batch of one keeps
 * the per-row id. A row published again in a different batch (eager publish and relay racing)
 * is fanned out twice, which is harmless: message ids derive from (endpoint, row) and a second
 * insert is ignored.
 */
export function fanoutBatchJobId(outboxIds: string[]): string {
  if (outboxIds.length === 1) return fanoutJobId(outboxIds[0]!);
  const digest = createHash('sha256').update(outboxIds.join(',')).digest('base64url').slice(0, 16);
  return `whk-${outboxIds[0]}-${outboxIds.at(-1)}-${digest}`;
}

/**
 * Rows that the writing statement saw had no endpoint on their site (`fanout: false`, see
 * asPublicationBatch) get no job: most sites have none, and these jobs were two of every
 * comment's three job life cycles, each with a query that found nothing. An endpoint hears every
 * event written after its registration commits; one whose registration was committing while the
 * statement ran was registered no later than the row, so the fan-out sweep (findUnfannedOutbox)
 * finds the row without its message and fans it out, within the sweep's window. Rows without the
 * flag (the relay's, single rows) and every comment.deleted (an erasure scrubs earlier messages)
 * keep their job.
 */
export function fanoutJobsFor(rows: Array<{ id: string; topic: string; fanout?: boolean }>): JobSpec[] {
  const ids = rows
    .filter((r) => isEventType(r.topic) && (r.fanout !== false || r.topic === 'comment.deleted'))
    .map((r) => String(r.id));
  const jobs: JobSpec[] = [];
  for (let i = 0; i < ids.length; i += FANOUT_BATCH) {
    const chunk = ids.slice(i, i + FANOUT_BATCH);
    const data: FanoutJob = { outboxIds: chunk };
    jobs.push({ queue: QUEUE.events, name: FANOUT_JOB, data: { ...data }, jobId: fanoutBatchJobId(chunk) });
  }
  return jobs;
}

let registered = false;

/**
 * Registered by createRuntime, so the API (which publishes what ingest commits) and the workers
 * (which publish decisions) both route rows to the fan-out. Idempotent.
 */
export function registerWebhookOutboxRoute(): void {
  if (registered) return;
  registered = true;
  registerOutboxBatchRoute(fanoutJobsFor);
}
