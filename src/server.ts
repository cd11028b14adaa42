/** Entrypoint: the HTTP API alone (scale it apart from the workers). */
import { boot, onShutdown, startHttp } from './entry';
import { publicBase } from './runtime';

const rt = await boot();
const http = startHttp(rt);
rt.logger.info({ port: rt.config.PORT }, `Parley API listening on ${publicBase(rt.config)}`);
onShutdown(rt.logger, rt.config.SHUTDOWN_GRACE_MS, async () => {
  await http.close();
  await rt.close();
});
