/**
 * One path of the API alone: `npx tsx bench/compare.ts reads|ingest [seconds] [rounds]` starts one
 * API process (no workers) and drives it with autocannon at 64 connections, printing per round the
 * answers per second, p99 and the API's CPU ms per answer:
 * - reads: a warm 20-comment thread page (of 40 seeded), with Chromium's Accept-Encoding
 *   (`BENCH_ACCEPT_ENCODING` to change it; empty for none);
 * - ingest: comment submissions, each a new comment (the jobs stay queued; nothing decides them).
 *
 * `BENCH_COMPARE_ROOT=/path/to/other/checkout` starts a second API from that tree (sharing this
 * database) and alternates rounds between the two, so a change is measured against the old code
 * in the same minutes. The other tree needs node_modules (a symlink to this checkout's will do).
 * `BENCH_CPU_PROF_API=dir` writes a V8 CPU profile of this checkout's API process.
 * `BENCH_NODE_ARGS` and `BENCH_COMPARE_NODE_ARGS` (space-separated; default API_NODE_ARGS, the
 * flags Parley's API is deployed with; empty for none) are passed to node for this checkout's API
 * and the other's: with `BENCH_COMPARE_ROOT=.` they compare runtime flags alone.
 * Loopback only; each round is bounded by its duration.
 */
import path from 'node:path';
import autocannon from 'autocannon';
import { createDb, dropDatabase, ensureDatabase } from '../db/database';
import { corpus } from './lib/corpus';
import { cpuPer, cpuSnapshot } from './lib/cpu';
import { API_NODE_ARGS, benchSetup, type Child, freePort, ROOT, startChild, waitReady } from './lib/procs';
import { deleteKeysWithPrefix } from './lib/redis-keys';
import { makeSite, seedThread } from './lib/seed';

const arg = process.argv[2];
if (arg !== 'reads' && arg !== 'ingest') {
  console.error('usage: npx tsx bench/compare.ts reads|ingest [seconds] [rounds]');
  process.exit(2);
}
const kind: 'reads' | 'ingest' = arg;
const seconds = Math.min(Number(process.argv[3] ?? 8), 60);
const rounds = Math.min(Number(process.argv[4] ?? 3), 20);
const compareRoot = process.env.BENCH_COMPARE_ROOT;
const ORIGIN = 'https://bench.example';

async function main() {
  const setup = await benchSetup(kind);
  await ensureDatabase(setup.dbUrl);
  const children: Child[] = [];
  const db = createDb({ url: setup.dbUrl, poolMax: 2 });
  try {
    const builds: { name: string; child: Child; port: number }[] = [];
    const start = async (name: string, root: string, port: number, nodeArgs: string[] = []) => {
      const child = startChild(
        `api-${name}`,
        'src/server.ts',
        { ...setup.env, PORT: String(port) },
        nodeArgs,
        root,
      );
      children.push(child);
      await waitReady(child, `http://127.0.0.1:${port}/healthz`);
      builds.push({ name, child, port });
    };
    // The first start migrates the database; start the builds one after the other.
    // BENCH_CPU_PROF_API=dir writes a V8 CPU profile of this build's API process there.
    const prof = process.env.BENCH_CPU_PROF_API;
    const nodeArgs = (name: string) => {
      const given = process.env[name];
      return given === undefined ? API_NODE_ARGS : given.split(' ').filter(Boolean);
    };
    await start('this', ROOT, setup.port, [
      ...(prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []),
      ...nodeArgs('BENCH_NODE_ARGS'),
    ]);
    if (compareRoot) {
      await start(
        path.basename(compareRoot),
        compareRoot,
        await freePort(),
        nodeArgs('BENCH_COMPARE_NODE_ARGS'),
      );
    }

    const siteId = await makeSite(db, ORIGIN);
    const load = kind === 'reads' ? await readLoad(db, siteId) : await ingestLoad(builds[0]!.port, siteId);
    for (const b of builds) await autocannon(load(b.port, 2));
    for (let r = 0; r < rounds; r++) {
      for (const b of r % 2 ? [...builds].reverse() : builds) {
        const pid = b.child.proc.pid ?? 0;
        const before = cpuSnapshot([pid]);
        const generatorBefore = process.cpuUsage();
        const res = await autocannon(load(b.port, seconds));
        const generator = process.cpuUsage(generatorBefore);
        const ok = res['2xx'];
        const cpu = cpuPer(before, cpuSnapshot([pid]), ok);
        console.log(
          JSON.stringify({
            round: r + 1,
            build: b.name,
            perSecond: Math.round(ok / seconds),
            p99Ms: res.latency.p99,
            apiCpuMs: cpu.process,
            postgresCpuMs: cpu.postgres,
            redisCpuMs: cpu.redis,
            // autocannon runs in this process: its share of the machine is not the server's.
            generatorCpuMs: ok
              ? Math.round(((generator.user + generator.system) / 1000 / ok) * 1000) / 1000
              : null,
            non2xx: res.non2xx,
            errors: res.errors,
          }),
        );
      }
    }
  } finally {
    for (const c of children) await c.stop();
    await db.destroy();
    await deleteKeysWithPrefix(setup.redisUrl, [setup.prefix]);
    await dropDatabase(setup.dbUrl);
  }
}

type Load = (port: number, duration: number) => autocannon.Options;

async function readLoad(db: ReturnType<typeof createDb>, siteId: string): Promise<Load> {
  await seedThread(db, siteId, 'bench-read', 40);
  const threadPath = `/api/v1/sites/${siteId}/articles/bench-read/comments?order=newest`;
  // Chromium's Accept-Encoding unless BENCH_ACCEPT_ENCODING says otherwise ('' sends none).
  const accept = process.env.BENCH_ACCEPT_ENCODING ?? 'gzip, deflate, br, zstd';
  const headers: Record<string, string> = accept ? { 'accept-encoding': accept } : {};
  return (port, duration) => ({
    url: `http://127.0.0.1:${port}${threadPath}`,
    connections: 64,
    duration,
    headers,
  });
}

/** New comments over 50 articles, all with one form token (issued long enough ago to be accepted). */
async function ingestLoad(port: number, siteId: string): Promise<Load> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/sites/${siteId}/form-token`);
  const { token } = (await res.json()) as { token: string };
  await new Promise((r) => setTimeout(r, 5000));
  const texts = corpus(2000);
  let k = 0;
  const target = (i: number) => `/api/v1/sites/${siteId}/articles/breaking-${i % 50}/comments`;
  return (port, duration) => ({
    url: `http://127.0.0.1:${port}`,
    connections: 64,
    duration,
    requests: [
      {
        method: 'POST',
        path: target(0),
        headers: { 'content-type': 'application/json', origin: ORIGIN },
        setupRequest: (req) => {
          const i = k++;
          const body = JSON.stringify({
            authorName: `Reader ${i % 997}`,
            authorEmail: `reader${i % 997}@bench.example`,
            body: texts[i % texts.length],
            formToken: token,
          });
          return { ...req, path: target(i), body };
        },
      },
    ],
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
