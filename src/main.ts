/** Entrypoint for `npm start`: migrations, the API, the workers and the demo page in one process. */
import { startWorkers } from '../workers/index';
import { exitOnStartupError, loadConfigOrExit, onShutdown, startHttp } from './entry';
import { createRedis } from './queue';
import { DEMO_SITE_ID } from './routes/demo';
import { checkBackends, createRuntime, prepareDatabase, publicBase } from './runtime';

const config = loadConfigOrExit();
const rt = createRuntime(config);
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
const http = startHttp(rt);
const base = publicBase(config);
const demo = await rt.sites.get(DEMO_SITE_ID);
rt.logger.info({ port: config.PORT }, 'Parley is running');
console.log(
  [
    '',
    `  Parley is running: open ${base}/ for the demo article and its comments`,
    demo ? `  Demo site id: ${demo.id}` : '  (no demo site: the database already had sites)',
    `  API reference: ${base}/docs   Moderation: ${base}/moderation`,
    '',
  ].join('\n'),
);
onShutdown(rt.logger, config.SHUTDOWN_GRACE_MS, async () => {
  await http.close();
  await workers.close(config.SHUTDOWN_GRACE_MS);
  workerConnection.disconnect();
  await rt.close();
});
