/** Entrypoint: the BullMQ workers and the outbox relay alone (scale them apart from the API). */
import { writeFile } from 'node:fs/promises';
import { boot, onShutdown, startMetricsServer } from '../src/entry';
import { bindMetricsBackends } from '../src/lib/metrics';
import { startWorkersFor } from './from-runtime';

const rt = await boot();
const { config } = rt;
const workerProcess = startWorkersFor(rt);
const { workers } = workerProcess;
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
  await workerProcess.close();
  await stopMetrics();
  await rt.close();
});
