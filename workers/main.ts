/** Entrypoint: the BullMQ workers and the outbox relay alone (scale them apart from the API). */
import { writeFile } from 'node:fs/promises';
import { exitOnStartupError, loadConfigOrExit, onShutdown, startMetricsServer } from '../src/entry';
import { bindMetricsBackends } from '../src/lib/metrics';
import { createRedis } from '../src/queue';
import { checkBackends, createRuntime, prepareDatabase } from '../src/runtime';
import { startWorkers } from './index';

const config = loadConfigOrExit();
const rt = createRuntime(config, undefined);
try {
  await checkBackends(config, rt.redis, rt.logger);
  await prepareDatabase(rt.db, config, rt.logger);
} catch (err) {
  exitOnStartupError(err);
}
const workerConnection = createRedis(config.REDIS_URL, 'worker');
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
bindMetricsBackends({ db: rt.db, queues: [rt.queues.moderate, rt.queues.events] });
const stopMetrics = startMetricsServer(config, rt.logger);
rt.logger.info({ concurrency: config.WORKER_CONCURRENCY }, 'Parley workers started');
const heartbeatFile = config.WORKER_HEARTBEAT_FILE;
const heartbeat = heartbeatFile
  ? setInterval(() => {
      // Only while the worker is running jobs' connection; a wedged event loop stops touching it.
      if (workers.moderate.isRunning()) writeFile(heartbeatFile, String(Date.now())).catch(() => {});
    }, 5000)
  : undefined;
onShutdown(rt.logger, config.SHUTDOWN_GRACE_MS, async () => {
  clearInterval(heartbeat);
  await workers.close(config.SHUTDOWN_GRACE_MS);
  await stopMetrics();
  workerConnection.disconnect();
  await rt.close();
});
