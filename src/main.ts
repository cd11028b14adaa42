/** Entrypoint for `npm start`: migrations, the API, the workers and the demo page in one process. */
import { startWorkersFor } from '../workers/from-runtime';
import { boot, onShutdown, startHttp } from './entry';
import { DEMO_SITE_ID } from './routes/demo';
import { publicBase } from './runtime';

const rt = await boot();
const { config } = rt;
const workerProcess = startWorkersFor(rt);
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
  await workerProcess.close();
  await rt.close();
});
