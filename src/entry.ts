/** Shared start-up and shutdown plumbing for the entrypoints (API, workers, all-in-one). */
import { createServer, type RequestListener, type ServerOptions } from 'node:http';
import { serve } from '@hono/node-server';
import { type App, createApp } from './app';
import type { Config } from './config';
import { ConfigError, loadConfig } from './config';
import type { Logger } from './lib/logger';
import { renderMetrics } from './lib/metrics';
import { judgePostgresSettings, readPostgresSettings } from './lib/postgres-checks';
import { checkBackends, createRuntime, prepareDatabase, type Runtime, StartupError } from './runtime';

export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

/** Prints a start-up failure as a sentence, not a stack trace, and exits. */
export function exitOnStartupError(err: unknown): never {
  if (err instanceof StartupError || err instanceof ConfigError) console.error(`parley: ${err.message}`);
  else console.error('parley: failed to start:', err);
  process.exit(1);
}

/**
 * Every entrypoint's start: validated config, real dependencies, backing services checked and the
 * database migrated; any failure exits with a sentence, not a stack trace.
 */
export async function boot(): Promise<Runtime> {
  const config = loadConfigOrExit();
  const rt = createRuntime(config);
  try {
    await checkBackends(config, rt.redis, rt.logger);
    await prepareDatabase(rt.db, config, rt.logger);
  } catch (err) {
    exitOnStartupError(err);
  }
  // Advice only: a server whose settings cannot be read starts all the same.
  await readPostgresSettings(rt.db).then(
    (settings) => {
      for (const w of judgePostgresSettings(settings)) rt.logger.warn({ postgres: settings }, w);
    },
    () => {},
  );
  return rt;
}

/**
 * The app on @hono/node-server, with two steps in front, on node:http itself before the adapter
 * builds its Request, Headers and Response objects: a cached thread page is written at once, and a
 * plain comment submission is taken by the submission fast path. `fastPaths: false` (tests that
 * compare the two) leaves every request to the app.
 */
export function serveApp(app: App, port: number, hostname: string, opts: { fastPaths?: boolean } = {}) {
  const fast = opts.fastPaths ?? true;
  return serve({
    fetch: app.fetch,
    port,
    hostname,
    createServer: ((options: ServerOptions, listener: RequestListener) =>
      createServer(options, (req, res) => {
        if (!fast || !(app.fastThread.node(req, res) || app.fastSubmit.node(req, res))) listener(req, res);
      })) as typeof createServer,
  });
}

export function startHttp(rt: Runtime) {
  const app = createApp(rt);
  const server = serveApp(app, rt.config.PORT, rt.config.HOST);
  return {
    app,
    server,
    /**
     * Stops accepting connections and waits for in-flight requests. Keep-alive sockets go idle
     * between requests: they are closed as soon as they do (a busy client would otherwise keep
     * sending on them and hold close() open forever), and any left at `graceMs` are cut.
     */
    close: (graceMs = rt.config.SHUTDOWN_GRACE_MS) =>
      new Promise<void>((resolve) => {
        const s = server as unknown as {
          closeIdleConnections?: () => void;
          closeAllConnections?: () => void;
        };
        const sweep = setInterval(() => s.closeIdleConnections?.(), 25);
        const cut = setTimeout(() => s.closeAllConnections?.(), Math.max(100, graceMs - 1000));
        server.close(() => {
          clearInterval(sweep);
          clearTimeout(cut);
          resolve();
        });
        s.closeIdleConnections?.();
      }),
  };
}

/**
 * On SIGTERM or SIGINT run `stop` once, bounded by the grace period; a second signal or the
 * deadline forces the exit.
 */
export function onShutdown(logger: Logger, graceMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, graceMs }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown did not finish within the grace period; exiting');
      process.exit(1);
    }, graceMs + 2000);
    deadline.unref();
    stop().then(
      () => {
        logger.info('stopped cleanly');
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}

/**
 * A bare /metrics listener for the workers process (the API serves /metrics on its own port).
 * Returns a close function; port 0 means off.
 */
export function startMetricsServer(config: Config, logger: Logger): () => Promise<void> {
  if (!config.WORKER_METRICS_PORT) return async () => {};
  const server = serve({
    port: config.WORKER_METRICS_PORT,
    hostname: config.HOST,
    fetch: async (req) => {
      if (new URL(req.url).pathname !== '/metrics') return new Response('not found', { status: 404 });
      if (config.METRICS_TOKEN && req.headers.get('authorization') !== `Bearer ${config.METRICS_TOKEN}`) {
        return new Response('unauthorized', { status: 401 });
      }
      const { contentType, body } = await renderMetrics();
      return new Response(body, { headers: { 'content-type': contentType } });
    },
  });
  server.on('error', (err) => logger.warn({ err }, 'worker metrics listener failed; continuing without it'));
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
