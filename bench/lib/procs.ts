/** Child processes for the benchmark: Parley's real entrypoints and the baseline server. */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Child {
  name: string;
  proc: ChildProcess;
  /** Last lines of output, for the error message when it dies or never gets ready. */
  tail(): string;
  stop(): Promise<void>;
}

const running = new Set<Child>();

// A crash or Ctrl-C of the bench must not leave servers behind on this shared machine.
process.on('exit', () => {
  for (const c of running) c.proc.kill('SIGKILL');
});

/**
 * Runs `node <nodeArgs> --import tsx <script>`: what `tsx <script>` does, minus tsx's wrapper
 * process, so the pid is the server itself (for CPU accounting and signals).
 */
export function startChild(
  name: string,
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  cwd = ROOT,
): Child {
  const [cmd, args] = [process.execPath, [...nodeArgs, '--import', 'tsx', script]];
  const proc = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString().split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const child: Child = {
    name,
    proc,
    tail: () => lines.join('\n'),
    async stop() {
      running.delete(child);
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    },
  };
  running.add(child);
  return child;
}

/** Polls `url` until it answers 200 (bounded); fails with the child's output if it exits first. */
export async function waitReady(child: Child, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.proc.exitCode !== null) {
      throw new Error(`${child.name} exited with ${child.proc.exitCode}:\n${child.tail()}`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} not ready within ${timeoutMs} ms:\n${child.tail()}`);
}

/** A free loopback port (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Node flags the API runs with wherever Parley is started (package.json, Dockerfile, compose),
 * so the bench measures the API as deployed. A 32 MB young generation (V8's default here is
 * 16 MB): the API allocates per request, and with the default the scavenger ran often enough to
 * be about a tenth of its busy time at saturation (docs/performance.md, round 16).
 */
export const API_NODE_ARGS = ['--max-semi-space-size=32'];

/**
 * A fresh, private Parley for one benchmark script: its own database name, queue prefix and
 * loopback port, and the environment its child processes run with. Flood limits are raised out of
 * reach (one load generator is one address) rather than turned off, so their cost is still paid.
 */
export async function benchSetup(name: string) {
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const dbUrl = `postgres://postgres@127.0.0.1:5432/parley_bench_${runId}_${name}`;
  const prefix = `{parley-bench-${runId}-${name}}`;
  const port = await freePort();
  const redisUrl = 'redis://127.0.0.1:6379';
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: dbUrl,
    REDIS_URL: redisUrl,
    QUEUE_PREFIX: prefix,
    PARLEY_SECRET: `bench-secret-${runId}-0123456789`,
    LOG_LEVEL: 'warn',
    DEMO: 'false',
    WORKER_METRICS_PORT: '0',
    RATE_SUBMIT_PER_IP: '1000000000/60',
    RATE_SUBMIT_PER_AUTHOR: '1000000000/60',
    RATE_SUBMIT_PER_ARTICLE: '1000000000/60',
  };
  return { runId, dbUrl, prefix, port, redisUrl, env };
}

/**
 * Parley as two real processes, API and workers, on the given environment: resolves once the API
 * answers /healthz and a moderate worker is registered on the queue (bounded: 30 s). The children
 * are pushed onto `children` as they start, so the caller's cleanup stops them even on failure.
 */
export async function startApiAndWorkers(
  env: Record<string, string>,
  port: number,
  children: Child[],
  workersNodeArgs: string[] = [],
): Promise<void> {
  // BENCH_CPU_PROF_ALL=dir writes a V8 CPU profile of each of the two processes there.
  const prof = process.env.BENCH_CPU_PROF_ALL;
  const profArgs = prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [];
  const api = startChild('api', 'src/server.ts', env, [...API_NODE_ARGS, ...profArgs]);
  children.push(api);
  await waitReady(api, `http://127.0.0.1:${port}/healthz`);
  const workers = startChild('workers', 'workers/main.ts', env, [...profArgs, ...workersNodeArgs]);
  children.push(workers);
  const queue = new Queue('moderate', { connection: { url: env.REDIS_URL }, prefix: env.QUEUE_PREFIX });
  try {
    for (let i = 0; i < 150 && (await queue.getWorkersCount()) === 0; i++) {
      if (workers.proc.exitCode !== null) throw new Error(`workers exited:\n${workers.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await queue.close();
  }
}
