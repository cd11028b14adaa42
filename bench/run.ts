/**
 * `npm run bench`: Parley's real processes (`src/server.ts`, `workers/main.ts`) against the local
 * Postgres and Redis, each phase on a fresh database and queue prefix of its own, driven over
 * loopback. Prints a table, then as the LAST line one JSON object (see docs/performance.md).
 *
 * Phases, all bounded in count and time (about 4 minutes in all):
 *   1. pipeline: the moderation pipeline alone, in this process (one core);
 *   2. ingest: autocannon (from the generator's process), 64 connections, alternating rounds
 *      against the baseline server and Parley (no workers, so both only accept), then two Parley
 *      API processes sharing the same load;
 *   3. end to end: API + workers, an open-loop generator (in a process of its own) at 1,000
 *      comments/s for 20 s, right after 3 s at that rate unmeasured; latency from each request's
 *      scheduled send time to the comment's decided_at; then a few rising rates to find the
 *      highest whose p99 stays under 1 s;
 *   4. reads: autocannon (the same) on a warm thread page, sending Accept-Encoding as Chromium
 *      does (so the page goes in brotli, as it does to readers), and a freshness probe (a comment
 *      published under load must show up in under a second); then a shorter round without
 *      Accept-Encoding, reported beside it.
 * On a machine clearly slower than the one the targets were set on (its baseline under 90% of
 * REFERENCE_BASELINE), phase 3 adds one run at the equivalent rate, and the absolute targets are
 * also reported scaled; the literal targets stay the verdict.
 *
 * The machine is shared (2 cores, other engineers' tests): compare ratios within one run.
 * Environment knobs: BENCH_QUICK=1 (shorter phases, for trying the harness), BENCH_E2E_RATE=1000
 * (the fixed end-to-end rate), BENCH_STEPS=1500,2000,2500
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { createDb, dropDatabase, ensureDatabase } from '../db/database';
import { cpuPer, cpuSnapshot } from './lib/cpu';
import { percentile, wallNow } from './lib/open-loop';
import { API_NODE_ARGS, type Child, freePort, startChild, waitReady } from './lib/procs';
import { deleteKeysWithPrefix } from './lib/redis-keys';
import { makeSite as makeSiteFor, publishDirect, seedThread } from './lib/seed';
import { commentBody, submissionPath } from './lib/submission-request';
import { type ClosedResult, closedLoop, submitAtRate } from './lib/submissions';
import { benchPipeline } from './pipeline';

const QUICK = process.env.BENCH_QUICK === '1';
const PG = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
for (const u of [PG, REDIS]) {
  const host = new URL(u).hostname;
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1' && host !== '[::1]') {
    throw new Error(`bench runs against loopback only, not ${host}`);
  }
}
const ORIGIN = 'https://bench.example';
const CONNECTIONS = 64;
const ROUND_S = QUICK ? 3 : 4;
// Four short rounds in the order baseline, Parley, Parley, baseline, ...: a machine that speeds
// up or slows down during the ingest phase (seen on this shared machine) then weighs on both alike.
const ROUNDS = QUICK ? 1 : 4;
const E2E_RATE = Number(process.env.BENCH_E2E_RATE ?? 1000);
const E2E_S = QUICK ? 5 : 20;
const E2E_WARM_S = QUICK ? 1 : 3;
const STEP_S = QUICK ? 4 : 10;
const STEPS = (process.env.BENCH_STEPS ?? '1500,2000,2500,3000,4000').split(',').map(Number);
const STEPS_DOWN = [500, 250, 100];
const READ_S = QUICK ? 3 : 10;
/** The uncompressed read round, for comparison: a client that sends no Accept-Encoding. */
const READ_PLAIN_S = QUICK ? 2 : 5;
/** What Chromium sends; thread pages are answered in brotli to it (src/lib/content-coding.ts). */
const BROWSER_READ_HEADERS = { 'accept-encoding': 'gzip, deflate, br, zstd' };
const ARTICLES = 10;
/**
 * The obvious implementation's accepted comments per second on the machine the performance issue
 * was written on. Its absolute targets (1,000 and 2,000 comments/s, 15,000 reads/s) were set for
 * that machine; the same code runs here at a different speed from one hour to the next, so each
 * run also reports those targets scaled by (this run's baseline / this figure).
 */
const REFERENCE_BASELINE = 4300;

const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const dbUrl = (phase: string) => {
  const u = new URL(PG);
  u.pathname = `/parley_bench_${runId}_${phase}`;
  return u.toString();
};
const children: Child[] = [];
const databases: string[] = [];
const prefixes: string[] = [];

function log(msg: string) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}
const round1 = (n: number) => Math.round(n * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parleyEnv(phase: string, port: number, extra: Record<string, string> = {}) {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: dbUrl(phase),
    REDIS_URL: REDIS,
    QUEUE_PREFIX: `{parley-bench-${runId}-${phase}}`,
    PARLEY_SECRET: `bench-secret-${runId}-0123456789`,
    LOG_LEVEL: 'warn',
    DEMO: 'false',
    // One load generator on one address posts thousands of comments a second: the flood limits
    // stay on (their Redis round trips are part of the cost measured) but are raised out of reach.
    RATE_SUBMIT_PER_IP: '1000000000/60',
    RATE_SUBMIT_PER_AUTHOR: '1000000000/60',
    RATE_SUBMIT_PER_ARTICLE: '1000000000/60',
    WORKER_METRICS_PORT: '0',
    ...extra,
  };
}

async function startApi(phase: string, extra: Record<string, string> = {}) {
  // Retried: the start-up Redis check can race the connection on a loaded machine and exit(1).
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = startChild(
      `api:${phase}:${port}`,
      'src/server.ts',
      parleyEnv(phase, port, extra),
      API_NODE_ARGS,
    );
    children.push(child);
    try {
      await waitReady(child, `http://127.0.0.1:${port}/healthz`);
      return { port, child };
    } catch (err) {
      await child.stop();
      if (attempt >= 3) throw err;
      log(`${child.name} did not start (attempt ${attempt}); retrying`);
    }
  }
}

/** Starts the workers process and waits until a moderate worker is registered on its queue. */
async function startWorkers(phase: string) {
  const env = parleyEnv(phase, 0);
  const queue = new Queue('moderate', { connection: { url: REDIS }, prefix: env.QUEUE_PREFIX });
  try {
    for (let attempt = 1; ; attempt++) {
      const child = startChild(`workers:${phase}`, 'workers/main.ts', env);
      children.push(child);
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && child.proc.exitCode === null) {
        if ((await queue.getWorkersCount()) > 0) return child;
        await sleep(200);
      }
      await child.stop();
      if (attempt >= 3) throw new Error(`${child.name} did not start:\n${child.tail()}`);
      log(`${child.name} did not start (attempt ${attempt}); retrying`);
    }
  } finally {
    await queue.close();
  }
}

/** A database with Parley's schema (migrated by the first API process) and one bench site. */
async function preparePhase(phase: string) {
  const url = dbUrl(phase);
  await ensureDatabase(url);
  databases.push(url);
  prefixes.push(`{parley-bench-${runId}-${phase}}`);
  return createDb({ url, poolMax: 4 });
}

const makeSite = (db: ReturnType<typeof createDb>) => makeSiteFor(db, ORIGIN);

async function formToken(port: number, siteId: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/sites/${siteId}/form-token`);
  const { token } = (await res.json()) as { token: string };
  return token;
}

interface Cannon {
  rps: number;
  /** CPU ms per answered request: of the server process, and of Postgres and Redis (shared: upper bounds). */
  cpu?: { process: number; postgres: number; redis: number };
  p50: number;
  p99: number;
  total: number;
  ok: number;
  other: number;
}

function cannonSummary(r: ClosedResult, okStatus: number): Cannon {
  const ok = r.statusCounts[okStatus] ?? 0;
  const all = Object.values(r.statusCounts).reduce((s, n) => s + n, 0);
  return {
    rps: Math.round(ok / (r.duration || 1)),
    p50: r.p50,
    p99: r.p99,
    total: all + r.errors + r.timeouts,
    ok,
    other: all - ok + r.errors + r.timeouts,
  };
}

/** Closed-loop POST load: `connections` keep-alive connections, each one request at a time. */
async function postLoad(
  port: number,
  siteId: string,
  token: string,
  seconds: number,
  connections = CONNECTIONS,
  pid?: number,
) {
  const before = cpuSnapshot(pid ? [pid] : []);
  const r = await closedLoop({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    submissions: {
      siteId,
      formToken: token,
      origin: ORIGIN,
      first: Math.floor(Math.random() * 1e6),
      articles: ARTICLES,
    },
  });
  const summary = cannonSummary(r, 202);
  if (pid) summary.cpu = cpuPer(before, cpuSnapshot([pid]), summary.ok);
  return summary;
}

/** The ingest p99 is the worst round's, so the log says which round that was. */
const logRound = (r: Cannon) => log(`  ${r.rps}/s  p50 ${r.p50} ms  p99 ${r.p99} ms`);

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
const r3 = (n: number) => Math.round(n * 1000) / 1000;
const meanCpu = (runs: Cannon[]) => ({
  process: r3(mean(runs.map((r) => r.cpu?.process ?? 0))),
  postgres: r3(mean(runs.map((r) => r.cpu?.postgres ?? 0))),
  redis: r3(mean(runs.map((r) => r.cpu?.redis ?? 0))),
});

async function waitDrained(db: ReturnType<typeof createDb>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let left = 0;
  while (Date.now() < deadline) {
    const r = await sql<{
      n: string;
    }>`select count(*)::text as n from comments where status = 'pending'`.execute(db);
    left = Number(r.rows[0]?.n ?? 0);
    if (left === 0) return 0;
    await sleep(200);
  }
  return left;
}

interface E2E {
  rate: number;
  seconds: number;
  offered: number;
  accepted: number;
  achievedRate: number;
  decided: number;
  undecided: number;
  p50: number;
  p99: number;
  max: number;
  serverP50: number;
  serverP99: number;
  acceptP99: number;
  /** Answers other than 202 by status, and sends that got no answer ("error"): what was not accepted. */
  notAccepted: Record<string, number>;
}

/** "10 × 503, 2 × error" for the table; empty when everything was accepted. */
function describeNotAccepted(n: Record<string, number>): string {
  const parts = Object.entries(n).map(([k, v]) => `${v} × ${k}`);
  return parts.length ? ` (not accepted: ${parts.join(', ')})` : '';
}

/** Open-loop submissions at `rate`, then submission-to-decision latency of every accepted comment. */
async function endToEnd(
  db: ReturnType<typeof createDb>,
  port: number,
  siteId: string,
  token: string,
  rate: number,
  seconds: number,
  warmUpSeconds = 0,
): Promise<E2E> {
  const ids: string[] = [];
  const sentAt = new Map<string, number>();
  const base = Math.floor(Math.random() * 1e6);
  const load = {
    port,
    siteId,
    formToken: token,
    origin: ORIGIN,
    rate,
    maxConnections: 256,
    articles: ARTICLES,
  };
  // The same rate just before, unmeasured, with no gap: the measured window starts in the steady
  // state. After an idle second the first 100 ms of comments took 30-60 ms at the median on this
  // machine, every stage of every process slower (docs/performance.md, round 26); that is a
  // restart, not the fixed rate this measures.
  if (warmUpSeconds > 0)
    await submitAtRate({
      ...load,
      durationMs: warmUpSeconds * 1000,
      first: base + 5_000_000,
      onAccepted: () => {},
    });
  const res = await submitAtRate({
    ...load,
    durationMs: seconds * 1000,
    first: base,
    onAccepted: (id, scheduledAt) => {
      ids.push(id);
      sentAt.set(id, scheduledAt);
    },
  });
  const undecided = await waitDrained(db, 30_000);
  const rows = await sql<{ id: string; created: number; decided: number | null }>`
    select id, extract(epoch from created_at) * 1000 as created, extract(epoch from decided_at) * 1000 as decided
    from comments where id = any(${ids}::uuid[])`.execute(db);
  const fromSend: number[] = [];
  const serverSide: number[] = [];
  for (const r of rows.rows) {
    if (r.decided === null) continue;
    const decided = Number(r.decided);
    fromSend.push(decided - (sentAt.get(r.id) ?? decided));
    serverSide.push(decided - Number(r.created));
  }
  // A comment still undecided after the drain counts as infinitely late.
  const missing = ids.length - fromSend.length;
  for (let i = 0; i < missing; i++) fromSend.push(Number.POSITIVE_INFINITY);
  return {
    rate,
    seconds,
    offered: res.offered,
    accepted: ids.length,
    achievedRate: res.achievedRate,
    decided: ids.length - missing,
    undecided: Math.max(undecided, missing),
    p50: round1(percentile(fromSend, 50)),
    p99: round1(percentile(fromSend, 99)),
    max: round1(percentile(fromSend, 100)),
    serverP50: round1(percentile(serverSide, 50)),
    serverP99: round1(percentile(serverSide, 99)),
    acceptP99: round1(percentile(res.latencies, 99)),
    notAccepted: {
      ...Object.fromEntries(Object.entries(res.statuses).filter(([status]) => status !== '202')),
      ...(res.errors ? { error: res.errors } : {}),
    },
  };
}

const sustains = (e: E2E) =>
  e.accepted >= e.offered * 0.999 && e.undecided === 0 && e.p99 < 1000 && e.achievedRate >= e.rate * 0.95;

/** Seeds a thread with published comments the way the worker publishes them (status + version bump). */
/**
 * Publishes one comment mid-load and measures how long readers kept getting the old page: four
 * pollers ask for the page back to back; staleForMs is how long after the commit the last request
 * that still missed the comment was sent (what a reader experiences), firstSeenMs when the first
 * response showing it arrived (includes queueing in a server under load).
 */
async function freshnessProbe(
  db: ReturnType<typeof createDb>,
  port: number,
  siteId: string,
  articleId: string,
  threadPath: string,
): Promise<{ staleForMs: number; firstSeenMs: number }> {
  const [id] = await publishDirect(db, siteId, articleId, 1, 'fresh');
  const committed = wallNow();
  const deadline = committed + 5000;
  let lastStaleSent = committed;
  let firstSeen = Number.POSITIVE_INFINITY;
  const poller = async () => {
    while (wallNow() < deadline) {
      const sent = wallNow();
      const text = await (await fetch(`http://127.0.0.1:${port}${threadPath}`)).text();
      if (id && text.includes(id)) {
        firstSeen = Math.min(firstSeen, wallNow());
        return;
      }
      lastStaleSent = Math.max(lastStaleSent, sent);
      await sleep(5);
    }
    lastStaleSent = Number.POSITIVE_INFINITY;
  };
  await Promise.all(
    [0, 1, 2, 3].map(async (k) => {
      await sleep(k * 3);
      await poller();
    }),
  );
  return { staleForMs: round1(lastStaleSent - committed), firstSeenMs: round1(firstSeen - committed) };
}

async function main() {
  const started = Date.now();
  const out: Record<string, unknown> = {};

  // 1. Pipeline alone, before anything else runs, in this process: one core.
  log('pipeline alone (one core)');
  const pipeline = await benchPipeline({ comments: QUICK ? 5000 : 20_000 });

  // 2. Ingest: Parley's API (no workers) against the baseline server, same database and load.
  log('ingest: starting Parley API and baseline server');
  const ingestDb = await preparePhase('ingest');
  const api = await startApi('ingest');
  const siteId = await makeSite(ingestDb);
  const token = await formToken(api.port, siteId);
  const firstRes = await fetch(
    `http://127.0.0.1:${api.port}${submissionPath({ siteId, articles: ARTICLES }, 0)}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ORIGIN },
      body: commentBody(0, token),
    },
  );
  if (firstRes.status !== 202)
    throw new Error(`first submission answered ${firstRes.status}: ${await firstRes.text()}`);
  const article = await ingestDb
    .selectFrom('articles')
    .select('id')
    .where('site_id', '=', siteId)
    .executeTakeFirstOrThrow();
  const basePort = await freePort();
  const baseline = startChild('baseline', 'bench/baseline-server.ts', {
    BASELINE_PORT: String(basePort),
    DATABASE_URL: dbUrl('ingest'),
    REDIS_URL: REDIS,
    QUEUE_PREFIX: `{parley-bench-${runId}-ingest}`,
    BASELINE_SITE_ID: siteId,
    BASELINE_ARTICLE_ID: article.id,
  });
  children.push(baseline);
  await waitReady(baseline, `http://127.0.0.1:${basePort}/healthz`);

  log('ingest: warm-up');
  await postLoad(basePort, siteId, token, 2);
  await postLoad(api.port, siteId, token, 2);
  const parleyRuns: Cannon[] = [];
  const baseRuns: Cannon[] = [];
  const runBaseline = async (r: number) => {
    log(`ingest round ${r + 1}/${ROUNDS}: baseline ${ROUND_S}s`);
    const run = await postLoad(basePort, siteId, token, ROUND_S, CONNECTIONS, baseline.proc.pid);
    baseRuns.push(run);
    logRound(run);
  };
  const runParley = async (r: number) => {
    log(`ingest round ${r + 1}/${ROUNDS}: parley ${ROUND_S}s`);
    const run = await postLoad(api.port, siteId, token, ROUND_S, CONNECTIONS, api.child.proc.pid);
    parleyRuns.push(run);
    logRound(run);
  };
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      await runBaseline(r);
      await runParley(r);
    } else {
      await runParley(r);
      await runBaseline(r);
    }
  }
  await baseline.stop();

  // Scaling out on one machine: a second API process, the same 64 connections split over both.
  log(`ingest: two API processes, ${ROUND_S}s`);
  const api2 = await startApi('ingest');
  // Warmed like the first one was: measured cold, the second process's JIT and site cache made the
  // pair look worse than it is.
  await postLoad(api2.port, siteId, token, 2);
  const [a, b] = await Promise.all([
    postLoad(api.port, siteId, token, ROUND_S, CONNECTIONS / 2),
    postLoad(api2.port, siteId, token, ROUND_S, CONNECTIONS / 2),
  ]);
  log(`ingest: one API process again, ${ROUND_S}s`);
  const single = await postLoad(api.port, siteId, token, ROUND_S);
  await api2.child.stop();
  await api.child.stop();
  await ingestDb.destroy();

  const ingest = {
    commentsPerSecond: Math.round(mean(parleyRuns.map((x) => x.rps))),
    p50Ms: round1(mean(parleyRuns.map((x) => x.p50))),
    p99Ms: round1(Math.max(...parleyRuns.map((x) => x.p99))),
    connections: CONNECTIONS,
    requests: parleyRuns.reduce((s, x) => s + x.total, 0),
    non202: parleyRuns.reduce((s, x) => s + x.other, 0),
    rounds: parleyRuns.map((x) => x.rps),
    roundsP99Ms: parleyRuns.map((x) => x.p99),
    cpuMsPerComment: meanCpu(parleyRuns),
  };
  const base = {
    commentsPerSecond: Math.round(mean(baseRuns.map((x) => x.rps))),
    p50Ms: round1(mean(baseRuns.map((x) => x.p50))),
    p99Ms: round1(Math.max(...baseRuns.map((x) => x.p99))),
    connections: CONNECTIONS,
    requests: baseRuns.reduce((s, x) => s + x.total, 0),
    non202: baseRuns.reduce((s, x) => s + x.other, 0),
    rounds: baseRuns.map((x) => x.rps),
    roundsP99Ms: baseRuns.map((x) => x.p99),
    cpuMsPerComment: meanCpu(baseRuns),
  };
  // Judged unrounded: 4,684 / 2,346 is 1.997, which two decimals would have shown as a met 2.00.
  const exactRatio = ingest.commentsPerSecond / Math.max(1, base.commentsPerSecond);
  const ratio = Math.round(exactRatio * 1000) / 1000;
  const machine = Math.round((base.commentsPerSecond / REFERENCE_BASELINE) * 100) / 100;
  // Only a clearly slower machine gets the extra run; at about the reference speed the literal
  // targets are the scaled ones.
  const scaled = machine < 0.9;
  const scaledRate = Math.max(100, Math.round((E2E_RATE * machine) / 50) * 50);
  const scaleOut = {
    oneApi: { commentsPerSecond: single.rps, p99Ms: single.p99, non202: single.other },
    twoApis: { commentsPerSecond: a.rps + b.rps, p99Ms: Math.max(a.p99, b.p99), non202: a.other + b.other },
    ratio: Math.round(((a.rps + b.rps) / Math.max(1, single.rps)) * 100) / 100,
  };

  // 3. End to end: API + workers.
  log('end to end: starting API and workers');
  const e2eDb = await preparePhase('e2e');
  const e2eApi = await startApi('e2e');
  await startWorkers('e2e');
  const e2eSite = await makeSite(e2eDb);
  const e2eToken = await formToken(e2eApi.port, e2eSite);
  log('end to end: warm-up 500/s for 3s');
  await endToEnd(e2eDb, e2eApi.port, e2eSite, e2eToken, 500, 3);
  log(`end to end: ${E2E_RATE}/s for ${E2E_WARM_S}s unmeasured, then ${E2E_S}s`);
  const e2e = await endToEnd(e2eDb, e2eApi.port, e2eSite, e2eToken, E2E_RATE, E2E_S, E2E_WARM_S);
  let e2eScaled: E2E | null = null;
  if (scaled) {
    log(
      `end to end at this machine's equivalent of ${E2E_RATE}/s: ${scaledRate}/s for ${E2E_WARM_S}s unmeasured, then ${E2E_S}s`,
    );
    await waitDrained(e2eDb, 30_000);
    e2eScaled = await endToEnd(e2eDb, e2eApi.port, e2eSite, e2eToken, scaledRate, E2E_S, E2E_WARM_S);
  }
  const steps: E2E[] = [];
  let sustainable = sustains(e2e) ? E2E_RATE : 0;
  // Upwards from 1,000/s while each rate holds; if 1,000/s itself does not, downwards instead, so
  // the run still says what this machine sustains right now.
  const search = sustainable ? STEPS : STEPS_DOWN;
  for (const rate of search) {
    if (Date.now() - started > 270_000) {
      log('time budget reached: stopping the rate search');
      break;
    }
    log(`sustainable-rate search: ${rate}/s for ${STEP_S}s`);
    await waitDrained(e2eDb, 30_000);
    const step = await endToEnd(e2eDb, e2eApi.port, e2eSite, e2eToken, rate, STEP_S);
    steps.push(step);
    if (sustains(step)) {
      sustainable = Math.max(sustainable, rate);
      if (search === STEPS_DOWN) break;
    } else if (search === STEPS) break;
  }

  // 4. Reads: a warm thread page (newest first, the default page size), with a freshness probe.
  log(`reads: ${READ_S}s on a warm thread page`);
  const readArticle = await seedThread(e2eDb, e2eSite, 'bench-read', 40);
  const threadPath = `/api/v1/sites/${e2eSite}/articles/bench-read/comments?order=newest`;
  const pageRes = await fetch(`http://127.0.0.1:${e2eApi.port}${threadPath}`, {
    headers: { 'accept-encoding': 'identity' },
  });
  const page = (await pageRes.json()) as { comments: unknown[] };
  const pageBytes = Buffer.byteLength(JSON.stringify(page));
  // fetch decodes the body but leaves the headers as sent: the size on the wire.
  const wireRes = await fetch(`http://127.0.0.1:${e2eApi.port}${threadPath}`, {
    headers: BROWSER_READ_HEADERS,
  });
  await wireRes.arrayBuffer();
  const wireBytes = Number(wireRes.headers.get('content-length'));
  const wireCoding = wireRes.headers.get('content-encoding') ?? 'identity';
  const apiPid = e2eApi.child.proc.pid ?? 0;
  /** One autocannon round on the page, with the API's CPU per answer. */
  const readRound = async (duration: number, headers?: Record<string, string>) => {
    const cpu0 = cpuSnapshot([apiPid]);
    const run = cannonSummary(
      await closedLoop({
        url: `http://127.0.0.1:${e2eApi.port}${threadPath}`,
        connections: CONNECTIONS,
        duration,
        headers,
      }),
      200,
    );
    return { ...run, cpu: cpuPer(cpu0, cpuSnapshot([apiPid]), run.ok) };
  };
  await readRound(2, BROWSER_READ_HEADERS);
  const probe = (async () => {
    await sleep((READ_S * 1000) / 2);
    return freshnessProbe(e2eDb, e2eApi.port, e2eSite, readArticle, threadPath);
  })();
  const readRun = await readRound(READ_S, BROWSER_READ_HEADERS);
  const { staleForMs: freshnessMs, firstSeenMs } = await probe;
  log(`reads: ${READ_PLAIN_S}s without Accept-Encoding`);
  const plainRun = await readRound(READ_PLAIN_S);
  const reads = {
    requestsPerSecond: readRun.rps,
    p50Ms: readRun.p50,
    p99Ms: readRun.p99,
    connections: CONNECTIONS,
    non200: readRun.other,
    commentsOnPage: page.comments.length,
    pageBytes,
    wire: { coding: wireCoding, bytes: wireBytes },
    freshnessMs,
    firstSeenMs,
    cpuMsPerRequest: readRun.cpu.process,
    uncompressed: {
      requestsPerSecond: plainRun.rps,
      p99Ms: plainRun.p99,
      non200: plainRun.other,
      cpuMsPerRequest: plainRun.cpu.process,
    },
  };
  await e2eDb.destroy();

  const targets = {
    ingestRatio: { target: '>= 2', actual: ratio, met: exactRatio >= 2 },
    ingestP99: { target: '< 25 ms', actual: ingest.p99Ms, met: ingest.p99Ms < 25 && ingest.non202 === 0 },
    e2eP99: { target: '< 50 ms at 1000/s', actual: e2e.p99, met: e2e.p99 < 50 },
    sustainableRate: { target: '>= 2000/s', actual: sustainable, met: sustainable >= 2000 },
    reads: {
      target: '>= 15000 req/s',
      actual: reads.requestsPerSecond,
      met: reads.requestsPerSecond >= 15_000,
    },
    freshness: { target: '< 1000 ms', actual: freshnessMs, met: freshnessMs < 1000 },
    pipeline: {
      target: '>= 5000/s',
      actual: pipeline.commentsPerSecond,
      met: pipeline.commentsPerSecond >= 5000,
    },
  };

  const scaledTargets = e2eScaled
    ? {
        machineFactor: machine,
        e2eP99: {
          target: `< 50 ms at ${scaledRate}/s`,
          actual: e2eScaled.p99,
          met: e2eScaled.p99 < 50,
        },
        sustainableRate: {
          target: `>= ${Math.round(2000 * machine)}/s`,
          actual: sustainable,
          met: sustainable >= 2000 * machine,
        },
        reads: {
          target: `>= ${Math.round(15_000 * machine)} req/s`,
          actual: reads.requestsPerSecond,
          met: reads.requestsPerSecond >= 15_000 * machine,
        },
      }
    : null;

  Object.assign(out, {
    ingest,
    baseline: base,
    ratio,
    endToEnd: {
      offeredRate: e2e.rate,
      seconds: e2e.seconds,
      p50Ms: e2e.p50,
      p99Ms: e2e.p99,
      maxMs: e2e.max,
      serverP99Ms: e2e.serverP99,
      accepted: e2e.accepted,
      offered: e2e.offered,
      notAccepted: e2e.notAccepted,
      undecided: e2e.undecided,
    },
    sustainableRate: sustainable,
    steps: steps.map((s) => ({
      rate: s.rate,
      achieved: s.achievedRate,
      accepted: s.accepted,
      offered: s.offered,
      notAccepted: s.notAccepted,
      p50Ms: s.p50,
      p99Ms: s.p99,
      undecided: s.undecided,
      sustained: sustains(s),
    })),
    reads,
    pipeline: { commentsPerSecond: pipeline.commentsPerSecond, cores: 1 },
    scaleOut,
    targets,
    machine: {
      referenceBaseline: REFERENCE_BASELINE,
      factor: machine,
      endToEnd: e2eScaled && {
        offeredRate: e2eScaled.rate,
        seconds: e2eScaled.seconds,
        p50Ms: e2eScaled.p50,
        p99Ms: e2eScaled.p99,
        maxMs: e2eScaled.max,
        serverP99Ms: e2eScaled.serverP99,
        accepted: e2eScaled.accepted,
        offered: e2eScaled.offered,
        notAccepted: e2eScaled.notAccepted,
        undecided: e2eScaled.undecided,
      },
      targets: scaledTargets,
    },
    seconds: Math.round((Date.now() - started) / 1000),
    note: 'shared 2-core machine: compare ratios within one run',
  });

  const rows: Array<[string, string, string]> = [
    ['pipeline alone (1 core)', `${pipeline.commentsPerSecond} comments/s`, mark(targets.pipeline.met)],
    [
      'baseline ingest (64 conn)',
      `${base.commentsPerSecond}/s  p50 ${base.p50Ms} ms  p99 ${base.p99Ms} ms  non-202 ${base.non202}`,
      '',
    ],
    [
      '  CPU ms per comment',
      `server ${base.cpuMsPerComment.process}  postgres ${base.cpuMsPerComment.postgres}  redis ${base.cpuMsPerComment.redis}`,
      '',
    ],
    [
      'Parley ingest (64 conn)',
      `${ingest.commentsPerSecond}/s  p50 ${ingest.p50Ms} ms  p99 ${ingest.p99Ms} ms  non-202 ${ingest.non202}`,
      mark(targets.ingestP99.met),
    ],
    [
      '  CPU ms per comment',
      `server ${ingest.cpuMsPerComment.process}  postgres ${ingest.cpuMsPerComment.postgres}  redis ${ingest.cpuMsPerComment.redis}`,
      '',
    ],
    ['ratio Parley / baseline', `${ratio}x`, mark(targets.ingestRatio.met)],
    [
      'two API processes / one',
      `${scaleOut.twoApis.commentsPerSecond}/s vs ${scaleOut.oneApi.commentsPerSecond}/s = ${scaleOut.ratio}x`,
      '',
    ],
    [
      `end to end ${e2e.rate}/s x ${e2e.seconds}s`,
      `p50 ${e2e.p50} ms  p99 ${e2e.p99} ms  (server-side p99 ${e2e.serverP99} ms)  ${e2e.accepted}/${e2e.offered} accepted${describeNotAccepted(e2e.notAccepted)}`,
      mark(targets.e2eP99.met),
    ],
    ...steps.map((s): [string, string, string] => [
      `  step ${s.rate}/s x ${s.seconds}s`,
      `sent ${s.achievedRate}/s  p50 ${s.p50} ms  p99 ${s.p99} ms  undecided ${s.undecided}`,
      sustains(s) ? 'sustained' : 'not sustained',
    ]),
    ['sustainable rate (p99 < 1 s)', `${sustainable}/s`, mark(targets.sustainableRate.met)],
    [
      'thread reads (64 conn)',
      `${reads.requestsPerSecond} req/s  p99 ${reads.p99Ms} ms  ${reads.commentsOnPage} comments, ${pageBytes} B (${reads.wire.bytes} B ${reads.wire.coding}), ${reads.cpuMsPerRequest} CPU ms/req`,
      mark(targets.reads.met),
    ],
    [
      '  without Accept-Encoding',
      `${reads.uncompressed.requestsPerSecond} req/s  p99 ${reads.uncompressed.p99Ms} ms  ${pageBytes} B, ${reads.uncompressed.cpuMsPerRequest} CPU ms/req`,
      '',
    ],
    [
      'published -> stale page served for',
      `${freshnessMs} ms (first response showing it after ${firstSeenMs} ms)`,
      mark(targets.freshness.met),
    ],
    [
      'machine speed',
      `baseline ${base.commentsPerSecond}/s = ${machine}x the issue's machine (${REFERENCE_BASELINE}/s)`,
      '',
    ],
    ...(e2eScaled && scaledTargets
      ? ([
          [
            `  scaled: end to end ${scaledRate}/s x ${e2eScaled.seconds}s`,
            `p50 ${e2eScaled.p50} ms  p99 ${e2eScaled.p99} ms  (server-side p99 ${e2eScaled.serverP99} ms)  ${e2eScaled.accepted}/${e2eScaled.offered} accepted${describeNotAccepted(e2eScaled.notAccepted)}`,
            mark(scaledTargets.e2eP99.met),
          ],
          [
            `  scaled: sustainable ${scaledTargets.sustainableRate.target}`,
            `${sustainable}/s`,
            mark(scaledTargets.sustainableRate.met),
          ],
          [
            `  scaled: reads ${scaledTargets.reads.target}`,
            `${reads.requestsPerSecond} req/s`,
            mark(scaledTargets.reads.met),
          ],
        ] as Array<[string, string, string]>)
      : []),
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(`\nParley benchmark (${out.note})`);
  for (const [k, v, m] of rows) console.log(`${k.padEnd(w0)}  ${v.padEnd(w1)}  ${m}`);
  console.log(JSON.stringify(out));
}

function mark(ok: boolean) {
  return ok ? 'target met' : 'TARGET MISSED';
}

async function cleanup() {
  await Promise.all(children.map((c) => c.stop().catch(() => {})));
  await deleteKeysWithPrefix(REDIS, prefixes);
  for (const url of databases) await dropDatabase(url).catch((err) => log(`could not drop ${url}: ${err}`));
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  console.error('bench failed:', err);
} finally {
  await cleanup().catch((err) => log(`cleanup failed: ${err}`));
}
process.exit(failed ? 1 : 0);
