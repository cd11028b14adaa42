/**
 * Webhook workers: the fan-out (outbox row -> one message per subscribed endpoint), the dispatcher
 * (leases due messages with a per-endpoint in-flight cap and per-comment ordering, then enqueues
 * one delivery job per lease) and the delivery processor (sign, send, record, schedule the retry).
 * Postgres holds every message's state, so a flushed Redis or a killed worker loses nothing: an
 * expired lease is simply leased again, and the message keeps its webhook-id.
 */
import { type Job, Worker } from 'bullmq';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database, OutboxRow } from '../db/schema';
import { createBatcher } from '../src/lib/batcher';
import { FORCED_CLOSE_MS, keyedKicks, type Loop, settlesWithin, startLoop } from '../src/lib/loop';
import { QUEUE, type Queues, type RedisClient } from '../src/queue';
import { insertOutbox } from '../src/repositories/outbox';
import {
  deleteFinishedBefore,
  disableEndpoint,
  findLeased,
  findUnfannedOutbox,
  finishMessage,
  insertAttempt,
  type Leased,
  type LeasedTarget,
  leaseDue,
  lockEndpoint,
  lockLeased,
  markEndpointFailing,
  markEndpointHealthy,
  recordSuccesses,
  releaseLease,
  type SuccessRecord,
} from '../src/repositories/webhooks';
import { publishNow } from '../src/services/outbox-publisher';
import { createAgentPool, sendDelivery } from '../src/webhooks/client';
import { EVENT_TYPES } from '../src/webhooks/events';
import { recordDelivery, recordDisabled } from '../src/webhooks/metrics';
import {
  FANOUT_JOB,
  type FanoutJob,
  fanoutJobId,
  registerWebhookOutboxRoute,
} from '../src/webhooks/outbox-route';
import { DISABLE_AFTER_MS, nextDelayMs, parseRetryAfter } from '../src/webhooks/schedule';
import { fanOutBatch } from '../src/webhooks/service';
import { decryptSecret, signedHeaders } from '../src/webhooks/signing';
import type { GuardPolicy, Resolver } from '../src/webhooks/ssrf';
import { createSweepCursor, type SweepCursor } from '../src/webhooks/sweep-cursor';

export interface WebhookWorkerOptions {
  policy: GuardPolicy;
  /** PARLEY_SECRET: decrypts the stored signing secrets. */
  serverSecret: string;
  /** Whole-exchange timeout per attempt (15 s by default; the spec's range is 15–30 s). */
  timeoutMs: number;
  /** Deliveries in flight per endpoint. */
  perEndpoint: number;
  /** Delivery jobs in flight per worker process. */
  concurrency: number;
  dispatchIntervalMs: number;
  /** The scheduling clock (due times, leases, the 5-day rule); tests pass a controllable one. */
  now: () => Date;
  /** Jitter source in [0, 1). */
  random: () => number;
  resolver?: Resolver;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How often lost fan-out jobs are looked for (default 30 s). */
  fanoutSweepIntervalMs?: number;
  /** Finished messages and their attempt log are deleted after this long (default 30 days). */
  retentionMs?: number;
  /** Deliveries one job makes on handed-over slots before the next goes back to the queue (100). */
  chainLimit?: number;
}

export interface WebhookDeps {
  db: Kysely<Database>;
  queues: Queues;
  workerConnection: RedisClient;
  logger: Logger;
}

export interface DeliveryJob {
  messageId: string;
  leaseToken: string;
}

export interface RunningWebhookWorkers {
  fanout: Worker;
  delivery: Worker<DeliveryJob>;
  /** Runs one dispatcher pass now; resolves with the number of messages leased. */
  dispatchNow(): Promise<number>;
  /** Re-enqueues fan-out jobs that were lost; resolves with how many. */
  sweepFanoutNow(): Promise<number>;
  /** Deletes finished messages past retention; resolves with how many. */
  pruneNow(): Promise<number>;
  close(graceMs?: number): Promise<void>;
}

/**
 * A lease outlives the longest attempt plus the writes after it, so only a dead worker's lease
 * ever expires; then the message is leased again (same webhook-id).
 */
function leaseMs(timeoutMs: number): number {
  return timeoutMs + Math.max(2000, timeoutMs / 2);
}

/** Deliveries one job makes along a chain of handed-over slots before queueing the next one. */
const CHAIN_LIMIT = 100;

/** Waits before each new try of a failed success record (3.75 s in all). */
const RECORD_RETRIES_MS = [250, 500, 1000, 2000];

/** The fan-out sweep takes rows this old (their own job should have run), at most SWEEP_LIMIT a pass. */
const SWEEP_AGE_MS = 30_000;
const SWEEP_LIMIT = 500;
/** The newest ids a pass looks at whatever the cursor says (all of them on a process's first passes). */
const SWEEP_WINDOW = 20_000;

export function startWebhookWorkers(deps: WebhookDeps, opts: WebhookWorkerOptions): RunningWebhookWorkers {
  registerWebhookOutboxRoute();
  const { db, queues, logger } = deps;

  /** Leases due messages (all endpoints, or one) and enqueues a delivery job per lease. */
  async function dispatchOnce(endpointId?: string): Promise<number> {
    const now = opts.now();
    const leased = await db.transaction().execute((trx) =>
      leaseDue(trx, {
        now,
        leaseUntil: new Date(now.getTime() + leaseMs(opts.timeoutMs)),
        perEndpoint: opts.perEndpoint,
        limit: 500,
        shard: queues.prefix,
        endpointId,
      }),
    );
    if (leased.length) await enqueueDeliveries(leased);
    return leased.length;
  }

  async function enqueueDeliveries(leased: Leased[]): Promise<void> {
    // The lease token is in the job id: a job from an expired lease never blocks the new one.
    await queues.webhooks.addBulk(
      leased.map((l) => ({
        name: 'deliver',
        data: { messageId: l.id, leaseToken: l.lease_token },
        opts: { jobId: `dlv-${l.id}-${l.lease_token}` },
      })),
    );
  }

  let sweepCursor: SweepCursor | null = null;

  /**
   * The outbox relay marks a row published once its fan-out job is in Redis; if Redis loses it, this
   * finds it. Each pass picks up where the last complete one left off (the cursor), so no write
   * rate outruns it.
   */
  async function sweepFanout(): Promise<number> {
    // Real time: this compares with outbox.created_at, which Postgres stamps.
    const at = Date.now();
    const { ids, top } = await findUnfannedOutbox(db, {
      topics: EVENT_TYPES,
      olderThan: new Date(at - SWEEP_AGE_MS),
      window: SWEEP_WINDOW,
      limit: SWEEP_LIMIT,
      fromId: sweepCursor?.from ?? null,
    });
    if (ids.length) {
      await queues.events.addBulk(
        // A job id of its own: the first fan-out job may still exist as completed (it found no
        // subscriber in its cache), and BullMQ ignores an add under an existing id.
        ids.map((id) => ({
          name: FANOUT_JOB,
          data: { outboxId: id },
          opts: { jobId: `${fanoutJobId(id)}-sweep` },
        })),
      );
      logger.info({ count: ids.length }, 'webhook fan-out jobs re-enqueued');
    }
    // A process's first pass looked at the newest window alone: that is where its cursor starts.
    const windowStart = BigInt(top) - BigInt(SWEEP_WINDOW);
    sweepCursor ??= createSweepCursor(SWEEP_AGE_MS, String(windowStart > 0n ? windowStart : 0n));
    // Only once the jobs are in Redis: a pass that failed must be looked at again.
    sweepCursor.passed({ at, top, full: ids.length >= SWEEP_LIMIT });
    return ids.length;
  }

  async function prune(): Promise<number> {
    const before = new Date(opts.now().getTime() - (opts.retentionMs ?? 30 * 86_400_000));
    let total = 0;
    // Bounded batches so a large backlog never holds long locks.
    for (let i = 0; i < 100; i++) {
      const n = await deleteFinishedBefore(db, before, 5000);
      total += n;
      if (n < 5000) break;
    }
    if (total) logger.info({ deleted: total }, 'old webhook messages deleted');
    return total;
  }

  let dispatcher: Loop | undefined;
  const kick = () => dispatcher?.kick();
  const agents = createAgentPool({ maxSockets: opts.perEndpoint });
  let shuttingDown = false;
  /**
   * A finished delivery hands its slot straight to the endpoint's next due message, without
   * waiting for a dispatcher pass. Deliveries to one endpoint that finish together share one lease
   * pass: each pass locks the endpoint's row, so one pass per delivery queued them one behind the
   * other, and that queue, not the receiver, set the endpoint's rate (docs/webhooks.md). A failed
   * pass is harmless: the dispatcher finds the message. A closing worker leases nothing more.
   */
  const handOn = keyedKicks(
    (endpointId) => (shuttingDown ? Promise.resolve(0) : dispatchOnce(endpointId)),
    (err) => logger.warn({ err }, 'chained lease failed'),
  );

  /**
   * Successes that finish together are recorded by one statement, which also hands each freed slot
   * to its endpoint's next due message (see recordSuccesses). Closing: nothing is handed over, so
   * this worker holds no lease it will not send.
   */
  const record = createBatcher<
    SuccessRecord & { endpointId: string },
    { recorded: boolean; next: LeasedTarget | null }
  >(
    async (items) => {
      const now = opts.now();
      const { recorded, next } = await recordSuccesses(
        db,
        items,
        shuttingDown
          ? undefined
          : { now, leaseUntil: new Date(now.getTime() + leaseMs(opts.timeoutMs)), shard: queues.prefix },
      );
      const byEndpoint = new Map<string, LeasedTarget[]>();
      for (const n of next) byEndpoint.set(n.endpoint_id, [...(byEndpoint.get(n.endpoint_id) ?? []), n]);
      // An endpoint gets no more next messages than it had successes recorded here.
      return items.map((it) =>
        recorded.has(it.messageId)
          ? { recorded: true, next: byEndpoint.get(it.endpointId)?.shift() ?? null }
          : { recorded: false, next: null },
      );
    },
    { maxBatch: 100, maxInFlight: 2 },
  );

  /**
   * The receiver has the message: a record that fails now (Postgres restarting) would have the job
   * fail and the message go out again. So it is tried again for a few seconds, well inside the
   * lease; if the lease has lapsed meanwhile, the compare-and-set records nothing.
   */
  async function recordRetrying(item: SuccessRecord & { endpointId: string }) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await record(item);
      } catch (err) {
        if (attempt >= RECORD_RETRIES_MS.length || shuttingDown) throw err;
        logger.warn({ err, messageId: item.messageId }, 'recording a delivery failed; trying again');
        await new Promise((r) => setTimeout(r, RECORD_RETRIES_MS[attempt]));
      }
    }
  }

  /**
   * One delivery job: its lease, then, while each success hands the slot over to the endpoint's
   * next due message, that message too, in this job. The hand-over's statement returns the next
   * message ready to send, so a busy endpoint's slot costs one statement and one request per
   * delivery, with no queue job and no load in between. Every lease is in Postgres: if this
   * worker dies mid-chain, the lease it holds expires and the message is leased again. A chain
   * gives its slot back to the queue after CHAIN_LIMIT deliveries, so endpoints beyond the
   * worker's concurrency get their turn, and stops handing over once the worker is closing.
   */
  async function deliver(job: Pick<Job<DeliveryJob>, 'data'>): Promise<string> {
    let m: LeasedTarget | undefined = await findLeased(
      db,
      job.data.messageId,
      job.data.leaseToken,
      opts.now(),
    ).then((found) => (found ? { ...found, lease_token: job.data.leaseToken } : undefined));
    if (!m) return 'stale';
    let outcome = '';
    for (let n = 1; m; n++) {
      const r = await deliverLeased(m);
      outcome = r.outcome;
      m = r.next ?? undefined;
      if (m && (n >= (opts.chainLimit ?? CHAIN_LIMIT) || shuttingDown)) {
        // Handed over at the limit (or while closing): the next message goes back to the queue.
        await enqueueDeliveries([m]).catch((err) =>
          logger.warn({ err }, 'handed-over delivery not enqueued'),
        );
        break;
      }
    }
    return outcome;
  }

  async function deliverLeased(m: LeasedTarget): Promise<{ outcome: string; next: LeasedTarget | null }> {
    const messageId = m.id;
    const leaseToken = m.lease_token;
    if (!m.enabled) {
      await releaseLease(db, messageId, leaseToken);
      return { outcome: 'disabled', next: null };
    }
    const secrets = m.secrets.map((s) => decryptSecret(opts.serverSecret, s));
    // The signed timestamp is wall-clock time: receivers compare it with their own clock.
    const headers = signedHeaders(secrets, m.id, Math.floor(Date.now() / 1000), m.body);
    const result = await sendDelivery(
      { url: m.url, headers: { ...headers }, body: m.body, poolKey: m.endpoint_id },
      { policy: opts.policy, timeoutMs: opts.timeoutMs, resolver: opts.resolver, agents },
    );
    recordDelivery(result.outcome, result.durationMs);
    const after = opts.now();
    if (result.outcome === 'success') {
      const { recorded, next } = await recordRetrying({
        messageId,
        leaseToken,
        statusCode: result.statusCode,
        durationMs: result.durationMs,
        responseBody: result.responseBody,
        at: after,
        endpointId: m.endpoint_id,
      });
      if (next) return { outcome: result.outcome, next };
      if (recorded && m.failing_since) await markEndpointHealthy(db, m.endpoint_id);
      await handOn.kick(m.endpoint_id);
      return { outcome: result.outcome, next: null };
    }
    const outbox: OutboxRow[] = await db.transaction().execute(async (trx) => {
      await lockEndpoint(trx, m.endpoint_id);
      const cur = await lockLeased(trx, messageId, leaseToken);
      if (!cur) return []; // our lease expired and someone else owns the message now
      const tries = cur.tries + 1;
      const attempts = cur.attempts + 1;
      const error = result.outcome === 'http_error' ? `HTTP ${result.statusCode}` : (result.error ?? null);
      await insertAttempt(trx, {
        messageId,
        endpointId: m.endpoint_id,
        attempt: attempts,
        trigger: cur.tries === 0 && cur.attempts > 0 ? 'manual' : 'scheduled',
        outcome: result.outcome,
        statusCode: result.statusCode,
        durationMs: result.durationMs,
        responseBody: result.responseBody,
        error,
        at: after,
      });
      let disable: 'gone' | 'failing' | undefined;
      if (result.statusCode === 410) disable = 'gone';
      else {
        const since = await markEndpointFailing(trx, m.endpoint_id, after);
        if (after.getTime() - since.getTime() >= DISABLE_AFTER_MS) disable = 'failing';
      }
      const status = result.statusCode ?? 0;
      const retryAfterMs =
        status === 429 || status >= 500 ? parseRetryAfter(result.retryAfter, after.getTime()) : undefined;
      const delay = disable ? undefined : nextDelayMs(tries, { retryAfterMs, random: opts.random });
      await finishMessage(trx, messageId, {
        status: delay === undefined ? 'failed' : 'pending',
        tries,
        attempts,
        nextAttemptAt: delay === undefined ? null : new Date(after.getTime() + delay),
        statusCode: result.statusCode,
        error,
      });
      if (!disable) return [];
      const ep = await disableEndpoint(trx, m.endpoint_id, disable, after);
      if (!ep) return [];
      recordDisabled(disable);
      logger.warn({ endpointId: ep.id, reason: disable }, 'webhook endpoint disabled');
      return insertOutbox(trx, [
        {
          topic: 'endpoint.disabled',
          siteId: ep.site_id,
          payload: {
            endpointId: ep.id,
            url: ep.url,
            reason: disable,
            disabledAt: after.toISOString(),
            failingSince: ep.failing_since ? new Date(ep.failing_since).toISOString() : null,
          },
        },
      ]);
    });
    if (outbox.length) await publishNow(db, queues, outbox);
    await handOn.kick(m.endpoint_id);
    return { outcome: result.outcome, next: null };
  }

  const fanout = new Worker(
    QUEUE.events,
    async (job: Job<FanoutJob>) => {
      if (job.name !== FANOUT_JOB) return 'ignored';
      // A batch of rows published together, or one row (the sweep, and jobs from before batching).
      const outboxIds = job.data.outboxIds ?? (job.data.outboxId ? [String(job.data.outboxId)] : []);
      const ids = await fanOutBatch(db, outboxIds.map(String), opts.now(), queues.prefix);
      if (ids.length) kick();
      return ids.length;
    },
    { connection: deps.workerConnection, prefix: queues.prefix, concurrency: 8 },
  );
  fanout.on('error', (err) => logger.warn({ err }, 'webhook fan-out worker error'));
  fanout.on('failed', (job, err) =>
    logger.warn({ err, jobId: job?.id }, 'webhook fan-out failed; will retry'),
  );

  const delivery = new Worker<DeliveryJob>(QUEUE.webhooks, (job) => deliver(job), {
    connection: deps.workerConnection,
    prefix: queues.prefix,
    concurrency: opts.concurrency,
    lockDuration: opts.lockDurationMs ?? 30_000,
    stalledInterval: opts.stalledIntervalMs ?? 30_000,
  });
  delivery.on('error', (err) => logger.warn({ err }, 'webhook delivery worker error'));
  delivery.on('failed', (job, err) => logger.warn({ err, jobId: job?.id }, 'webhook delivery job failed'));

  dispatcher = startLoop(
    () => dispatchOnce(),
    opts.dispatchIntervalMs,
    (err) => logger.warn({ err }, 'webhook dispatch pass failed; will retry'),
  );
  const pruner = startLoop(prune, 3_600_000, (err) => logger.warn({ err }, 'webhook retention pass failed'));
  const fanoutSweep = startLoop(sweepFanout, opts.fanoutSweepIntervalMs ?? 30_000, (err) =>
    logger.warn({ err }, 'webhook fan-out sweep failed; will retry'),
  );

  return {
    fanout,
    delivery,
    dispatchNow: () => dispatchOnce(),
    sweepFanoutNow: sweepFanout,
    pruneNow: prune,
    async close(graceMs = 10_000) {
      const deadline = Date.now() + graceMs;
      shuttingDown = true;
      // A pass stuck on a connection that never answers must not hold the close for ever; leases
      // of anything cut short expire and are leased again, so nothing is lost.
      const loops = Promise.all([dispatcher?.stop(), fanoutSweep.stop(), pruner.stop()]);
      if (!(await settlesWithin(loops, graceMs))) {
        logger.warn('a webhook dispatch, sweep or retention pass did not finish; left to the process exit');
      }
      const closing = Promise.all([fanout.close(), delivery.close()]);
      if (!(await settlesWithin(closing, deadline - Date.now()))) {
        await settlesWithin(Promise.all([fanout.close(true), delivery.close(true)]), FORCED_CLOSE_MS);
      }
      await settlesWithin(handOn.idle(), Math.max(0, deadline - Date.now()));
      agents.destroy();
    },
  };
}
