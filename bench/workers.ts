/**
 * Worker throughput alone: `npx tsx bench/workers.ts [count]` queues `count` comments (default
 * 4000) through a real API process with no workers running, then starts one workers process and
 * times how long it takes to decide them all, with its CPU ms per decision. Fresh database and
 * queue prefix, loopback only, bounded (120 s of draining at most), everything removed at the end.
 */
import autocannon from 'autocannon';
import { sql } from 'kysely';
import { createDb, dropDatabase, ensureDatabase } from '../db/database';
import { createSite } from '../src/repositories/sites';
import { corpus } from './lib/corpus';
import { cpuPer, cpuSnapshot } from './lib/cpu';
import { API_NODE_ARGS, benchSetup, type Child, startChild, waitReady } from './lib/procs';
import { deleteKeysWithPrefix } from './lib/redis-keys';

const count = Math.min(100_000, Math.max(1, Number(process.argv[2] ?? 4000)));
const { dbUrl, prefix, port, redisUrl, env } = await benchSetup('workers');
const origin = 'https://bench.example';

await ensureDatabase(dbUrl);
const db = createDb({ url: dbUrl, poolMax: 2 });
const children: Child[] = [];
let failed = false;
try {
  // BENCH_CPU_PROF_API=dir profiles the API process while it takes the submissions.
  const apiProf = process.env.BENCH_CPU_PROF_API;
  const api = startChild('api', 'src/server.ts', env, [
    ...API_NODE_ARGS,
    ...(apiProf ? ['--cpu-prof', '--cpu-prof-dir', apiProf] : []),
  ]);
  children.push(api);
  await waitReady(api, `http://127.0.0.1:${port}/healthz`);
  const site = await db
    .transaction()
    .execute((trx) => createSite(trx, { name: 'Bench site', allowedOrigins: [origin] }));
  const texts = corpus(2000);
  let k = 0;
  const apiBefore = cpuSnapshot([api.proc.pid ?? 0]);
  const ingestStarted = Date.now();
  const ingestRun = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: Number(process.env.BENCH_CONN ?? 64),
    amount: count,
    requests: [
      {
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/json', origin },
        setupRequest: (req) => {
          const i = k++;
          return {
            ...req,
            path: `/api/v1/sites/${site.id}/articles/breaking-${i % 10}/comments`,
            body: JSON.stringify({
              authorName: `Reader ${i % 997}`,
              authorEmail: `reader${i % 997}@bench.example`,
              body: texts[i % texts.length],
            }),
          };
        },
      },
    ],
  });
  const ingestSeconds = (Date.now() - ingestStarted) / 1000;
  const accepted = ingestRun['2xx'];
  const ingest = {
    accepted,
    perSecond: Math.round(accepted / ingestSeconds),
    p99Ms: ingestRun.latency.p99,
    cpuMsPerComment: cpuPer(apiBefore, cpuSnapshot([api.proc.pid ?? 0]), accepted),
  };
  if (apiProf) await api.stop();
  const pending = async () =>
    Number(
      (
        await sql<{ n: string }>`select count(*)::text as n from comments where status = 'pending'`.execute(
          db,
        )
      ).rows[0]?.n ?? 0,
    );
  const queued = await pending();
  // BENCH_CPU_PROF=dir writes a V8 CPU profile of the workers process there (open in Chrome DevTools).
  const prof = process.env.BENCH_CPU_PROF;
  const workers = startChild(
    'workers',
    'workers/main.ts',
    env,
    prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : [],
  );
  children.push(workers);
  const before = cpuSnapshot([workers.proc.pid ?? 0]);
  const started = Date.now();
  let left = queued;
  // The steady-state figures start at the first decision, so the process's start-up (module
  // loading and compiling, connecting) does not count against the decisions.
  let warm: { at: number; left: number; cpu: ReturnType<typeof cpuSnapshot> } | undefined;
  while (left > 0 && Date.now() - started < 120_000) {
    await new Promise((r) => setTimeout(r, warm ? 250 : 50));
    left = await pending();
    if (!warm && left < queued) warm = { at: Date.now(), left, cpu: cpuSnapshot([workers.proc.pid ?? 0]) };
  }
  const ended = Date.now();
  const after = cpuSnapshot([workers.proc.pid ?? 0]);
  const seconds = (ended - started) / 1000;
  const cpu = cpuPer(before, after, queued - left);
  const steadyDecided = warm ? warm.left - left : 0;
  const steadySeconds = warm ? (ended - warm.at) / 1000 : 0;
  const steady = warm
    ? {
        decided: steadyDecided,
        seconds: Math.round(steadySeconds * 10) / 10,
        decisionsPerSecond: Math.round(steadyDecided / Math.max(steadySeconds, 0.001)),
        cpuMsPerDecision: cpuPer(warm.cpu, after, steadyDecided),
      }
    : null;
  const outcomes = await sql<{ status: string; n: string }>`
    select status, count(*)::text as n from comments group by status order by status`.execute(db);
  const result = {
    ingest,
    queued,
    decided: queued - left,
    seconds: Math.round(seconds * 10) / 10,
    decisionsPerSecond: Math.round((queued - left) / seconds),
    cpuMsPerDecision: cpu,
    steady,
    outcomes: Object.fromEntries(outcomes.rows.map((r) => [r.status, Number(r.n)])),
    note: 'top level includes the workers process start-up, steady starts at the first decision; shared machine: compare within one run',
  };
  console.log(JSON.stringify(result));
} catch (err) {
  failed = true;
  console.error('bench/workers failed:', err);
} finally {
  await Promise.all(children.map((c) => c.stop().catch(() => {})));
  await db.destroy();
  // BENCH_KEEP_DB=1 keeps the database for EXPLAIN (its name is printed); drop it by hand after.
  if (process.env.BENCH_KEEP_DB === '1') console.error(`kept database: ${dbUrl}`);
  else await dropDatabase(dbUrl).catch(() => {});
  await deleteKeysWithPrefix(redisUrl, [prefix]);
}
process.exit(failed ? 1 : 0);
