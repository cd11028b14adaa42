/** Starts the workers with a process's runtime and config: what both worker entrypoints share. */
import { createRedis } from '../src/queue';
import type { Runtime } from '../src/runtime';
import { type RunningWorkers, startWorkers } from './index';

export interface WorkerProcess {
  workers: RunningWorkers;
  /** Stops the workers within the grace period and drops their blocking connection. */
  close(): Promise<void>;
}

export function startWorkersFor(rt: Runtime): WorkerProcess {
  const { config } = rt;
  // BullMQ's blocking commands need a connection of their own (maxRetriesPerRequest: null).
  const workerConnection = createRedis(config, 'worker');
  const workers = startWorkers({
    db: rt.db,
    queues: rt.queues,
    workerConnection,
    sites: rt.sites,
    logger: rt.logger,
    concurrency: config.WORKER_CONCURRENCY,
    relayIntervalMs: config.RELAY_INTERVAL_MS,
    sweepIntervalMs: config.SWEEP_INTERVAL_MS,
    sweepAfterMs: config.SWEEP_AFTER_MS,
    lockDurationMs: config.WORKER_LOCK_MS,
    stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
    retentionIntervalMs: config.RETENTION_INTERVAL_MS,
  });
  return {
    workers,
    async close() {
      await workers.close(config.SHUTDOWN_GRACE_MS);
      workerConnection.disconnect();
    },
  };
}
