/** Entrypoint: the HTTP API alone (scale it apart from the workers). */
import { exitOnStartupError, loadConfigOrExit, onShutdown, startHttp } from './entry';
import { checkBackends, createRuntime, prepareDatabase, publicBase } from './runtime';

const config = loadConfigOrExit();
const rt = createRuntime(config);
try {
  await checkBackends(config, rt.redis, rt.logger);
  await prepareDatabase(rt.db, config, rt.logger);
} catch (err) {
  exitOnStartupError(err);
}
const http = startHttp(rt);
rt.logger.info({ port: config.PORT }, `Parley API listening on ${publicBase(config)}`);
onShutdown(rt.logger, config.SHUTDOWN_GRACE_MS, async () => {
  await http.close();
  await rt.close();
});
