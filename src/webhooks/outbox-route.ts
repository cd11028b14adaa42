/** Every outbox row that is a webhook event becomes one fan-out job on the `events` queue. */
import { QUEUE } from '../queue';
import { registerOutboxRoute } from '../services/outbox-routes';
import { isEventType } from './events';

export const FANOUT_JOB = 'webhooks.fanout';

export function fanoutJobId(outboxId: string): string {
  return `whk-${outboxId}`;
}

let registered = false;

/**
 * Registered by createRuntime, so the API (which publishes what ingest commits) and the workers
 * (which publish decisions) both route rows to the fan-out. Idempotent.
 */
export function registerWebhookOutboxRoute(): void {
  if (registered) return;
  registered = true;
  registerOutboxRoute('*', (row) =>
    isEventType(row.topic)
      ? [
          {
            queue: QUEUE.events,
            name: FANOUT_JOB,
            // Site and topic let the worker skip sites without endpoints before any query.
            data: { outboxId: row.id, siteId: row.site_id, topic: row.topic },
            jobId: fanoutJobId(row.id),
          },
        ]
      : [],
  );
}
