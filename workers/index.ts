/** Starts the BullMQ workers and the Postgres-driven loops (outbox relay, pending sweep). */
import { Worker } from 'bullmq';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../db/schema';
import { type Config, loadConfig } from '../src/config';
import { FORCED_CLOSE_MS, settlesWithin, startLoop } from '../src/lib/loop';
import { recordDecision } from '../src/lib/metrics';
import { defaultRules } from '../src/moderation/rules';
import type { Rule } from '../src/moderation/types';
import {
  failFastCopy,
  type LearnJob,
  type ModerateJob,
  moderateJobComments,
  moderateJobId,
  QUEUE,
  type Queues,
  type RedisClient,
} from '../src/queue';
import { findStalePending } from '../src/repositories/comments';
import { CANARY_JOB } from '../src/routes/health';
import { relayOnce } from '../src/services/outbox-publisher';
import { purgeSubmissionContext } from '../src/services/privacy';
import type { SiteCache } from '../src/services/site-cache';
import { startLearnWorker } from './learn';
import { createModerateProcessor, type ModerateDeps, type ModerateResult } from './moderate';
import { createAdaptiveCache, workerRules } from './moderation-context';
import { type RunningWebhookWorkers, startWebhookWorkers, type WebhookWorkerOptions } from './webhooks';

export interface WorkerDeps {
  db: Kysely<Database>;
  queues: Queues;
  /** A dedicated blocking connection for BullMQ workers (maxRetriesPerRequest: null). */
  workerConnection: RedisClient;
  sites: SiteCache;
  logger: Logger;
  concurrency: number;
  relayIntervalMs: number;
  sweepIntervalMs: number;
  sweepAfterMs: number;
  rules?: readonly Rule[];
  now?: () => Date;
  /** Lock timings; tests shorten them to force stalls. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  onDecided?: ModerateDeps['onDecided'];
  /** How often submission context past retention is purged (default hourly). */
  retentionIntervalMs?: number;
  /** Webhook settings and secrets; read from the environment when not given. */
  config?: Config;
  /** Fail-fast client for the velocity counters; by default a fail-fast copy of workerConnection. */
  redis?: RedisClient;
  /** Overrides for the webhook workers (tests pass a clock); false leaves them off. */
  webhooks?: Partial<WebhookWorkerOptions> | false;
}

export interface RunningWorkers {
  moderate: Worker<ModerateJob>;
  relayNow(): void;
  sweepNow(): Promise<number>;
  webhooks?: RunningWebhookWorkers;
  learn: Worker<LearnJob>;
  /** Stops taking jobs, waits for active ones up to `graceMs`, then stops the loops. */
  close(graceMs?: number): Promise<void>;
}

/**
 * A comment's job is added within milliseconds of its commit; this much later still counts as "the
 * same moment" when comparing a comment's age with the oldest waiting job's.
 */
const PUBLISH_MARGIN_MS = 5_000;

/** Comments whose job went missing (Redis flushed or restarted without persistence) go back on the queue. */
export async function sweepPending(
  deps: Pick<WorkerDeps, 'db' | 'queues' | 'sweepAfterMs'>,
  now = new Date(),
) {
  let cutoff = now.getTime() - deps.sweepAfterMs;
  // During a backlog, comments newer than the oldest job still waiting may have their job waiting
  // too (jobs are taken in order), and a job carries a whole batch under an id of its own, so the
  // sweep's single-comment job would not be recognised as a repeat: leave those comments alone.
  const [oldestWaiting] = await deps.queues.moderate.getJobs(['wait'], 0, 0, true);
  if (oldestWaiting) cutoff = Math.min(cutoff, oldestWaiting.timestamp - PUBLISH_MARGIN_MS);
  const stale = await findStalePending(deps.db, new Date(cutoff), 1000);
  if (!stale.length) return 0;
  // A lone comment's id, as its original job had if it was alone (an edited comment's, as its
  // edit's job has): ignored while that job exists.
  await deps.queues.moderate.addBulk(
    stale.map((c) => ({
      name: 'moderate',
      data: { commentId: c.id, requestId: c.request_id },
      opts: { jobId: moderateJobId(c.id, c.revision) },
    })),
  );
  return stale.length;
}

export function startWorkers(deps: WorkerDeps): RunningWorkers {
  const now = deps.now ?? (() => new Date());
  const settings = deps.config ?? loadConfig();
  // The site's adaptive model, shared by the moderate worker (reads) and the learner (invalidates).
  const adaptive = createAdaptiveCache(deps.db, settings.MODERATION_ADAPTIVE_CACHE_MS);
  // Counters must fail fast (unknown counts hold), unlike the worker connection, which waits forever.
  const ownCounterRedis = deps.redis ? undefined : failFastCopy(deps.workerConnection);
  const processor = createModerateProcessor({
    db: deps.db,
    queues: deps.queues,
    sites: deps.sites,
    rules: workerRules(
      deps.rules ?? defaultRules,
      settings.MODERATION_PROVIDER_URL
        ? {
            url: settings.MODERATION_PROVIDER_URL,
            apiKey: settings.MODERATION_PROVIDER_API_KEY,
            timeoutMs: settings.MODERATION_PROVIDER_TIMEOUT_MS,
          }
        : undefined,
    ),
    now,
    context: {
      redis: deps.redis ?? ownCounterRedis,
      keyPrefix: deps.queues.prefix,
      velocityWindowMs: settings.MODERATION_VELOCITY_WINDOW_SECONDS * 1000,
      duplicateWindowMs: settings.MODERATION_DUPLICATE_WINDOW_HOURS * 3_600_000,
      adaptive,
    },
    onDecided: (info) => {
      recordDecision({
        outcome: info.outcome,
        rule: info.decision.decisive?.rule,
        createdAt: info.createdAt,
      });
      deps.onDecided?.(info);
    },
  });

  const moderate = new Worker<ModerateJob>(
    QUEUE.moderate,
    async (job) => {
      // /readyz's canary: answered at once, proving a worker is taking jobs.
      if (job.name === CANARY_JOB) return { state: 'canary' };
      // The comments of one job go through the processor together, so they share its batches.
      const comments = moderateJobComments(job.data);
      const results = await Promise.allSettled(
        comments.map(async (c) => {
          // attemptsStarted counts a stalled job's second run as well as a retry.
          const firstRun = job.attemptsMade === 0 && (job.attemptsStarted ?? 1) <= 1;
          const result = await processor({ data: c, firstRun });
          const level = result.state === 'decided' ? 'info' : 'debug';
          // A child logger per comment costs more than its line when the line is not written
          // (pino copies the bindings at once), so only build one for a line that will be.
          if (!deps.logger.isLevelEnabled(level)) return result;
          // The request id written with the comment follows it into its job's log lines.
          const log = deps.logger.child({ requestId: c.requestId, jobId: job.id });
          if (result.state === 'decided')
            log.info({ commentId: c.commentId, outcome: result.outcome }, 'comment decided');
          else log.debug({ commentId: c.commentId, skipped: result.reason }, 'moderate job skipped');
          return result;
        }),
      );
      // One comment failing fails the job after the others are decided: the retry then decides
      // only what is still pending (the compare-and-set skips the rest).
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      const done = results.map((r) => (r as PromiseFulfilledResult<ModerateResult>).value);
      if (done.length === 1) return done[0];
      return { state: 'batch', decided: done.filter((d) => d.state === 'decided').length, of: done.length };
    },
    {
      connection: deps.workerConnection,
      prefix: deps.queues.prefix,
      concurrency: deps.concurrency,
      lockDuration: deps.lockDurationMs ?? 30_000,
      stalledInterval: deps.stalledIntervalMs ?? 30_000,
      maxStalledCount: 2,
    },
  );
  moderate.on('error', (err) => deps.logger.warn({ err }, 'moderate worker error'));
  // A lock lapsed (crashed or blocked worker): BullMQ runs the job again; the compare-and-set
  // keeps the decision single.
  moderate.on('stalled', (jobId) => deps.logger.warn({ jobId }, 'moderate job stalled; running it again'));
  moderate.on('failed', (job, err) =>
    deps.logger.warn({ err, jobId: job?.id, requestId: job?.data.requestId }, 'moderate job failed'),
  );

  const learn = startLearnWorker({
    db: deps.db,
    adaptive,
    queues: deps.queues,
    connection: deps.workerConnection,
    logger: deps.logger,
  });

  let webhooks: RunningWebhookWorkers | undefined;
  if (deps.webhooks !== false) {
    const config = deps.config ?? loadConfig();
    webhooks = startWebhookWorkers(deps, {
      policy: { allowLoopback: config.WEBHOOKS_ALLOW_LOOPBACK, allowHttp: config.NODE_ENV !== 'production' },
      serverSecret: config.PARLEY_SECRET,
      timeoutMs: config.WEBHOOKS_TIMEOUT_MS,
      perEndpoint: config.WEBHOOKS_ENDPOINT_CONCURRENCY,
      concurrency: config.WEBHOOKS_WORKER_CONCURRENCY,
      dispatchIntervalMs: config.WEBHOOKS_DISPATCH_INTERVAL_MS,
      retentionMs: config.WEBHOOKS_RETENTION_DAYS * 86_400_000,
      now,
      random: Math.random,
      ...deps.webhooks,
    });
  }

  const relay = startLoop(
    async () => {
      // Drain in pages so a backlog after an outage clears quickly.
      for (let i = 0; i < 50; i++) {
        const n = await relayOnce(deps.db, deps.queues, { graceMs: 2000, limit: 500 });
        if (n < 500) break;
      }
    },
    deps.relayIntervalMs,
    (err) => deps.logger.warn({ err }, 'outbox relay pass failed; will retry'),
  );
  // Privacy: submission context (IP hash, user agent, referrer) past each site's retention period.
  const retention = startLoop(
    async () => {
      for (let i = 0; i < 20; i++) if ((await purgeSubmissionContext(deps.db)) < 5000) break;
    },
    deps.retentionIntervalMs ?? 3_600_000,
    (err) => deps.logger.warn({ err }, 'retention purge failed; will retry'),
  );
  const sweep = startLoop(
    async () => {
      const n = await sweepPending(deps);
      if (n) deps.logger.info({ requeued: n }, 'sweep re-enqueued pending comments');
    },
    deps.sweepIntervalMs,
    (err) => deps.logger.warn({ err }, 'pending sweep failed; will retry'),
  );

  return {
    moderate,
    relayNow: () => relay.kick(),
    sweepNow: () => sweepPending(deps),
    webhooks,
    learn,
    async close(graceMs = 10_000) {
      // worker.close() waits for active jobs without a limit of its own; bound it here, and bound
      // the forced close and the loops too: each can wait on a connection that never answers.
      const closing = Promise.all([moderate.close(), learn.close(), webhooks?.close(graceMs)]);
      if (!(await settlesWithin(closing, graceMs))) {
        deps.logger.warn(
          { graceMs },
          'active jobs did not finish in time; forcing close (they will be retried)',
        );
        const forced = Promise.all([moderate.close(true), learn.close(true), webhooks?.close(0)]);
        if (!(await settlesWithin(forced, FORCED_CLOSE_MS))) {
          deps.logger.warn('workers did not close; leaving them to the process exit');
        }
      }
      const loops = Promise.all([relay.stop(), sweep.stop(), retention.stop()]);
      if (!(await settlesWithin(loops, Math.max(graceMs, FORCED_CLOSE_MS)))) {
        deps.logger.warn('a relay, sweep or retention pass did not finish; left to the process exit');
      }
      ownCounterRedis?.disconnect();
    },
  };
}
