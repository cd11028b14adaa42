/**
 * Prometheus metrics (prom-client), one registry per process. Counters and histograms are fed by
 * hooks at the edges (HTTP middleware, the submit handler, the moderate worker); gauges of
 * queue depth and outbox lag are read from Redis and Postgres when /metrics is scraped.
 */
import type { Queue } from 'bullmq';
import type { Context } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Kysely } from 'kysely';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../../db/schema';
import { outboxLag } from '../repositories/outbox';

const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'parley_' });

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Backends {
  db: Kysely<Database>;
  queues: Queue[];
}
let backends: Backends | undefined;

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms))),
    ]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

export const metrics = {
  registry,
  httpRequests: new Counter({
    name: 'parley_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  }),
  httpDuration: new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'HTTP request latency by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  }),
  commentsAccepted: new Counter({
    name: 'parley_comments_accepted_total',
    help: 'Comments durably stored and answered 202',
    registers: [registry],
  }),
  decisions: new Counter({
    name: 'parley_moderation_decisions_total',
    help: 'System moderation decisions by outcome and deciding rule ("none" when no rule fired)',
    labelNames: ['outcome', 'rule'] as const,
    registers: [registry],
  }),
  submissionToDecision: new Histogram({
    name: 'parley_submission_to_decision_seconds',
    help: 'Time from a comment being stored to its system decision',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  }),
  rateLimited: new Counter({
    name: 'parley_rate_limited_total',
    help: 'Requests refused with 429 by flood-control scope',
    labelNames: ['scope'] as const,
    registers: [registry],
  }),
  queueJobs: new Gauge({
    name: 'parley_queue_jobs',
    help: 'Jobs per queue and state (read at scrape time)',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      if (!backends) return;
      this.reset();
      for (const q of backends.queues) {
        const counts = await withTimeout(
          q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized'),
          1000,
        );
        if (!counts) continue;
        for (const [state, n] of Object.entries(counts)) this.set({ queue: q.name, state }, n);
      }
    },
  }),
  queueOldestWaiting: new Gauge({
    name: 'parley_queue_oldest_waiting_seconds',
    help: 'Age of the oldest job still waiting, per queue (0 when empty)',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      if (!backends) return;
      this.reset();
      for (const q of backends.queues) {
        // The wait list is pushed on the left and taken from the right: the oldest is the last.
        const jobs = await withTimeout(q.getWaiting(-1, -1), 1000);
        const oldest = jobs?.[0];
        this.set({ queue: q.name }, oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0);
      }
    },
  }),
  outboxUnpublished: new Gauge({
    name: 'parley_outbox_unpublished',
    help: 'Outbox rows not yet handed to the queue',
    registers: [registry],
  }),
  outboxLag: new Gauge({
    name: 'parley_outbox_lag_seconds',
    help: 'Age of the oldest unpublished outbox row (0 when none)',
    registers: [registry],
    async collect() {
      if (!backends) return;
      const lag = await withTimeout(outboxLag(backends.db), 1000);
      if (!lag) return;
      this.set(lag.oldestSeconds);
      metrics.outboxUnpublished.set(lag.unpublished);
    },
  }),
};

/** Lets the scrape-time gauges read this process's database and queues. */
export function bindMetricsBackends(b: Backends): void {
  backends = b;
}

/** Hook for the moderate worker: one system decision was recorded. */
export function recordDecision(info: { outcome: string; rule?: string | null; createdAt: Date }): void {
  metrics.decisions.inc({ outcome: info.outcome, rule: info.rule ?? 'none' });
  metrics.submissionToDecision.observe(Math.max(0, (Date.now() - info.createdAt.getTime()) / 1000));
}

/**
 * The webhook sender keeps its delivery counters (outcome, latency) on a registry of its own in
 * src/webhooks/metrics.ts; it is merged in when that module exists. Loaded by a computed path so
 * this file does not depend on the webhooks feature being installed.
 */
let extra: Promise<Registry[]> | undefined;
function extraRegistries(): Promise<Registry[]> {
  const path = '../webhooks/metrics';
  extra ??= import(path).then(
    (m: { webhookMetricsRegistry?: Registry }) =>
      m.webhookMetricsRegistry ? [m.webhookMetricsRegistry] : [],
    () => [],
  );
  return extra;
}

export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  const others = await extraRegistries();
  const merged = others.length ? Registry.merge([registry, ...others]) : registry;
  return { contentType: registry.contentType, body: await merged.metrics() };
}

/** The pattern of the route that answered (e.g. `/api/v1/sites/:siteId/comments/:commentId`). */
export function routeLabel(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i]!;
    if (r.method !== 'ALL') return r.path;
  }
  return 'unmatched';
}
