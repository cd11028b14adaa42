/**
 * Where a comment waits under steady load: `npx tsx bench/load-latency.ts [rate] [seconds]` starts
 * one API and one workers process (fresh database and queue prefix, loopback only), sends comments
 * open-loop at `rate`/s (default 400) for `seconds` (default 8), then splits each comment's
 * submission-to-decision time into stages from timestamps that already exist:
 *   send → created_at (ingest transaction start), created_at → job.timestamp (commit and the
 *   coalesced addBulk; the job's own creation time), job added → job.processedOn (BullMQ fetch),
 *   processedOn → decided_at (load, context, pipeline, write batch queue; decided_at is the write
 *   transaction's start), decided_at → job.finishedOn (write commit and job completion).
 * A 3 s unmeasured warm-up at the same rate comes right before. Prints p50/p99 of each stage as
 * one JSON line, each stage's mean over the slowest 2 % of comments and over all (the first four
 * stages' means add up to the total's), and the CPU ms per comment of the API, the workers,
 * Postgres, Redis and the generator's process over the measured load and its drain. Settings such as
 * INGEST_MAX_IN_FLIGHT, WORKER_CONCURRENCY or BENCH_ARTICLES (default 10) pass through from the
 * environment. BENCH_DUMP=file writes every measured comment's timestamps there as JSON rows
 * [scheduled send, created_at, job added, processedOn, decided_at, finishedOn] (ms since the epoch),
 * to find when the slow ones were sent and what else happened then.
 */
import { writeFileSync } from 'node:fs';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { createDb, dropDatabase, ensureDatabase } from '../db/database';
import { moderateJobComments } from '../src/queue';
import { createSite } from '../src/repositories/sites';
import { cpuPer, cpuSnapshot } from './lib/cpu';
import { percentile } from './lib/open-loop';
import { benchSetup, type Child, startApiAndWorkers } from './lib/procs';
import { deleteKeysWithPrefix } from './lib/redis-keys';
import { submitAtRate } from './lib/submissions';

const rate = Number(process.argv[2] ?? 400);
const seconds = Number(process.argv[3] ?? 8);
const articles = Number(process.env.BENCH_ARTICLES ?? 10);
const ORIGIN = 'https://bench.example';
const { dbUrl, prefix, port, redisUrl, env: baseEnv } = await benchSetup('loadlat');
const passThrough = Object.fromEntries(
  [
    'INGEST_MAX_IN_FLIGHT',
    'INGEST_MAX_BATCH',
    'INGEST_LINGER_MS',
    'INGEST_LINGER_BELOW',
    'WORKER_CONCURRENCY',
    'DATABASE_POOL_MAX',
  ]
    .filter((k) => process.env[k])
    .map((k) => [k, process.env[k] as string]),
);
const env = { ...baseEnv, ...passThrough };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
await ensureDatabase(dbUrl);
const db = createDb({ url: dbUrl, poolMax: 2 });
const queue = new Queue('moderate', { connection: { url: redisUrl }, prefix });
const children: Child[] = [];
try {
  await startApiAndWorkers(env, port, children);
  const site = await db
    .transaction()
    .execute((trx) => createSite(trx, { name: 'B', allowedOrigins: [ORIGIN] }));
  const { token } = (await (
    await fetch(`http://127.0.0.1:${port}/api/v1/sites/${site.id}/form-token`)
  ).json()) as { token: string };
  const sentAt = new Map<string, number>();
  let record = false;
  let base = Math.floor(Math.random() * 1e6);
  // Warm-up (JIT, pools, connections) at the same rate, not measured.
  const load = (ms: number) =>
    submitAtRate({
      port,
      siteId: site.id,
      formToken: token,
      origin: ORIGIN,
      rate,
      durationMs: ms,
      maxConnections: 256,
      articles,
      first: base,
      onAccepted: (id, scheduledAt) => {
        if (record) sentAt.set(id, scheduledAt);
      },
    });
  // Measured straight after, with no idle gap (see endToEnd in run.ts).
  await load(3000);
  base += 1_000_000;
  record = true;
  const pids = children.map((c) => c.proc.pid ?? 0);
  const cpuBefore = pids.map((pid) => cpuSnapshot([pid]));
  const res = await load(seconds * 1000);
  for (let i = 0; i < 150; i++) {
    const r = await sql<{ n: number }>`select count(*)::int n from comments where status = 'pending'`.execute(
      db,
    );
    if (r.rows[0]?.n === 0) break;
    await sleep(200);
  }
  // CPU ms per accepted comment over the measured load and its drain, per process.
  const [api, workers] = pids.map((pid, i) => cpuPer(cpuBefore[i]!, cpuSnapshot([pid]), sentAt.size));
  const cpuMsPerComment = {
    api: api!.process,
    workers: workers!.process,
    postgres: api!.postgres,
    redis: api!.redis,
    // The generator's own process, over the load only.
    generator: Math.round((res.generatorCpuMs / Math.max(1, sentAt.size)) * 1000) / 1000,
  };
  await sleep(500);
  const rows = await sql<{ id: string; c: string; d: string | null }>`
    select c.id, extract(epoch from c.created_at) * 1000 c, extract(epoch from c.decided_at) * 1000 d
    from comments c`.execute(db);
  const jobs = await queue.getJobs(['completed'], 0, -1);
  // A job decides every comment of one ingest batch (ModerateJob.more).
  const jobBy = new Map(
    jobs.flatMap((j) => moderateJobComments(j.data).map((c) => [c.commentId, j] as const)),
  );
  const t00 = Math.min(...sentAt.values());
  const perSecond: number[][] = [];
  const st = {
    sendToCreated: [] as number[],
    createdToJobAdded: [] as number[],
    jobAddedToProcessed: [] as number[],
    processedToDecided: [] as number[],
    decidedToFinished: [] as number[],
    total: [] as number[],
  };
  const dump: number[][] = [];
  for (const r of rows.rows) {
    const t0 = sentAt.get(r.id);
    const j = jobBy.get(r.id);
    if (t0 === undefined || !r.d || !j?.processedOn || !j.finishedOn) continue;
    const [c, d] = [Number(r.c), Number(r.d)];
    st.sendToCreated.push(c - t0);
    st.createdToJobAdded.push(j.timestamp - c);
    st.jobAddedToProcessed.push(j.processedOn - j.timestamp);
    st.processedToDecided.push(d - j.processedOn);
    st.decidedToFinished.push(j.finishedOn - d);
    st.total.push(d - t0);
    if (process.env.BENCH_DUMP) dump.push([t0, c, j.timestamp, j.processedOn, d, j.finishedOn]);
    const sec = Math.floor((t0 - t00) / 1000);
    perSecond[sec] = [...(perSecond[sec] ?? []), d - t0];
  }
  const out: Record<string, unknown> = {
    rate,
    seconds,
    achieved: Math.round(res.achievedRate),
    accepted: sentAt.size,
    measured: st.total.length,
    httpP50: Math.round(percentile(res.latencies, 50)),
    httpP99: Math.round(percentile(res.latencies, 99)),
    cpuMsPerComment,
  };
  for (const [k, v] of Object.entries(st))
    out[k] = [Math.round(percentile(v, 50)), Math.round(percentile(v, 99))];
  out.perSecondP50P99 = perSecond.map((v) => [Math.round(percentile(v, 50)), Math.round(percentile(v, 99))]);
  // Where the tail waits: each stage's mean over the slowest 2 % of comments (by total), beside
  // its mean over all. Percentiles of stages do not add up; these means do (up to decided_at).
  const byTotal = st.total.map((_, i) => i).sort((a, b) => st.total[b]! - st.total[a]!);
  const meanOf = (ids: number[]) =>
    Object.fromEntries(
      Object.entries(st).map(([k, v]) => [
        k,
        Math.round(ids.reduce((s, i) => s + v[i]!, 0) / Math.max(1, ids.length)),
      ]),
    );
  out.slowest2PercentMeans = meanOf(byTotal.slice(0, Math.max(1, Math.floor(byTotal.length / 50))));
  out.allMeans = meanOf(byTotal);
  console.log(JSON.stringify(out));
  if (process.env.BENCH_DUMP) writeFileSync(process.env.BENCH_DUMP, JSON.stringify(dump));
} finally {
  await queue.close().catch(() => {});
  await Promise.all(children.map((c) => c.stop().catch(() => {})));
  // Every queue and counter of the run, not only this one queue, and after the processes stop.
  await deleteKeysWithPrefix(redisUrl, [prefix]).catch(() => {});
  await db.destroy();
  await dropDatabase(dbUrl).catch(() => {});
}
process.exit(0);
