/**
 * Delivery counters for the reliability work: outcome counts and latency, as prom-client metrics
 * on a registry of their own (merge it into the exported one) and as a plain snapshot for tests.
 */
import { Counter, Histogram, Registry } from 'prom-client';
import type { AttemptOutcome } from '../../db/schema/webhooks';

export const webhookMetricsRegistry = new Registry();

const deliveries = new Counter({
  name: 'parley_webhook_deliveries_total',
  help: 'Webhook delivery attempts by outcome (success, http_error, timeout, network_error, blocked)',
  labelNames: ['outcome'] as const,
  registers: [webhookMetricsRegistry],
});

const latency = new Histogram({
  name: 'parley_webhook_delivery_seconds',
  help: 'Time from sending a webhook request to its response (or failure)',
  labelNames: ['outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30],
  registers: [webhookMetricsRegistry],
});

const disabled = new Counter({
  name: 'parley_webhook_endpoints_disabled_total',
  help: 'Endpoints disabled automatically, by reason (gone, failing)',
  labelNames: ['reason'] as const,
  registers: [webhookMetricsRegistry],
});

const counts: Record<string, { n: number; totalMs: number }> = {};

export function recordDelivery(outcome: AttemptOutcome, ms: number): void {
  deliveries.inc({ outcome });
  latency.observe({ outcome }, ms / 1000);
  counts[outcome] ??= { n: 0, totalMs: 0 };
  const c = counts[outcome];
  c.n += 1;
  c.totalMs += ms;
}

export function recordDisabled(reason: string): void {
  disabled.inc({ reason });
}

/** Attempts and summed latency per outcome since the process started. */
export function deliverySnapshot(): Record<string, { n: number; totalMs: number }> {
  return structuredClone(counts);
}
