/**
 * Webhooks under breaking news: `npm run bench:webhooks -- [rate] [seconds] [endpoints]` starts
 * Parley's API and workers processes (loopback receivers allowed), registers `endpoints` endpoints
 * (default 2) of one site on a receiver in this process that answers 204 at once, and measures:
 *
 * 1. backlog: 2,000 decision events written to the outbox at once and relayed, as a burst of
 *    moderator actions would be: deliveries per second from the first to the last, and the CPU ms
 *    per delivery of the workers process, Postgres and Redis;
 * 2. live: comments submitted at `rate` a second (default 300) for `seconds` (default 10), and each
 *    timed from its send to the arrival of its decision event (comment.published, .held or
 *    .rejected) at every endpoint: p50 and p99, and how many never arrived within 30 s.
 *
 * A receiver 50 ms away would add its round trip to every delivery; endpoints are then limited by
 * WEBHOOKS_ENDPOINT_CONCURRENCY / round trip, which this does not measure. Fresh database and
 * queue prefix, loopback only, bounded in count and time, everything removed at the end.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { createDb, dropDatabase, ensureDatabase } from '../db/database';
import { createQueues, createRedis } from '../src/queue';
import { insertOutbox } from '../src/repositories/outbox';
import { publishNow } from '../src/services/outbox-publisher';
import { type FanoutJob, registerWebhookOutboxRoute } from '../src/webhooks/outbox-route';
import { createEndpointWithSecret } from '../src/webhooks/service';
import { cpuPer, cpuSnapshot } from './lib/cpu';
import { percentile, wallNow } from './lib/open-loop';
import { benchSetup, type Child, startApiAndWorkers } from './lib/procs';
import { deleteKeysWithPrefix } from './lib/redis-keys';
import { makeSite } from './lib/seed';
import { submitAtRate } from './lib/submissions';

const rate = Math.min(2000, Math.max(1, Number(process.argv[2] ?? 300)));
const seconds = Math.min(60, Math.max(1, Number(process.argv[3] ?? 10)));
const endpointCount = Math.min(16, Math.max(1, Number(process.argv[4] ?? 2)));
const BACKLOG = 2000;
const ORIGIN = 'https://bench.example';
const DECISIONS = ['comment.published', 'comment.held', 'comment.rejected'];

const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const round1 = (n: number) => Math.round(n * 10) / 10;

/** Records every delivery's arrival by event type and comment id. */
async function startReceiver() {
  const arrivals: Array<{ type: string; id: string | null; at: number }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = wallNow();
      try {
        const e = JSON.parse(Buffer.concat(chunks).toString()) as { type: string; data?: { id?: string } };
        arrivals.push({ type: e.type, id: e.data?.id ?? null, at });
      } catch {
        arrivals.push({ type: 'unparsable', id: null, at });
      }
      res.writeHead(204);
      res.end();
    });
  });
  let connections = 0;
  server.on('connection', () => {
    connections++;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    arrivals,
    url: (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    get connections() {
      return connections;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const { dbUrl, prefix, port, redisUrl, env } = await benchSetup('webhooks');
await ensureDatabase(dbUrl);
const db = createDb({ url: dbUrl, poolMax: 4 });
const children: Child[] = [];
const rx = await startReceiver();
// This process relays the backlog's rows itself, as the API's relay would.
registerWebhookOutboxRoute();
const redis = createRedis(redisUrl, 'producer');
const queues = createQueues(redis, prefix);
let failed = false;
try {
  // Plain http to loopback: the production guard refuses both, so this runs as development.
  const parleyEnv = { ...env, NODE_ENV: 'development', WEBHOOKS_ALLOW_LOOPBACK: 'true' };
  // BENCH_CPU_PROF=dir writes a V8 CPU profile of the workers process there.
  const prof = process.env.BENCH_CPU_PROF;
  await startApiAndWorkers(parleyEnv, port, children, prof ? ['--cpu-prof', '--cpu-prof-dir', prof] : []);
  const workers = children.find((c) => c.name === 'workers')!;
  const siteId = await makeSite(db, ORIGIN);
  for (let i = 0; i < endpointCount; i++) {
    await createEndpointWithSecret(db, env.PARLEY_SECRET!, {
      siteId,
      url: rx.url(`/ep${i}`),
      description: `bench ${i}`,
      eventTypes: DECISIONS,
      enabled: true,
    });
  }
  const tokenRes = await fetch(`http://127.0.0.1:${port}/api/v1/sites/${siteId}/form-token`);
  const { token } = (await tokenRes.json()) as { token: string };
  await new Promise((r) => setTimeout(r, 1000));

  const waitFor = async (n: number, limitMs: number) => {
    const until = Date.now() + limitMs;
    while (rx.arrivals.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  };

  // 1. Backlog.
  log(`backlog: ${BACKLOG} events x ${endpointCount} endpoints`);
  const pid = [workers.proc.pid ?? 0];
  const before = cpuSnapshot(pid);
  const rows = await insertOutbox(
    db,
    Array.from({ length: BACKLOG }, (_, i) => ({
      topic: 'comment.published',
      siteId,
      commentId: null,
      payload: { actor: 'moderator', n: i },
    })),
  );
  const committed = wallNow();
  await publishNow(db, queues, rows);
  const expected = BACKLOG * endpointCount;
  await waitFor(expected, 120_000);
  const backlogArrivals = rx.arrivals.splice(0);
  const lastAt = Math.max(...backlogArrivals.map((a) => a.at));
  const firstAt = Math.min(...backlogArrivals.map((a) => a.at));
  const backlog = {
    events: BACKLOG,
    endpoints: endpointCount,
    delivered: backlogArrivals.length,
    deliveriesPerSecond: Math.round(backlogArrivals.length / Math.max(0.001, (lastAt - committed) / 1000)),
    firstAfterMs: Math.round(firstAt - committed),
    allAfterMs: Math.round(lastAt - committed),
    cpuMsPerDelivery: cpuPer(before, cpuSnapshot(pid), backlogArrivals.length),
  };
  log(`backlog: ${JSON.stringify(backlog)}`);

  // 2. Live.
  log(`live: ${rate}/s for ${seconds}s`);
  const sentAt = new Map<string, number>();
  const base = Math.floor(Math.random() * 1e6);
  const res = await submitAtRate({
    port,
    siteId,
    formToken: token,
    origin: ORIGIN,
    rate,
    durationMs: seconds * 1000,
    maxConnections: 128,
    articles: 10,
    first: base,
    onAccepted: (id, scheduledAt) => sentAt.set(id, scheduledAt),
  });
  await waitFor(sentAt.size * endpointCount, 30_000);
  const latencies: number[] = [];
  for (const a of rx.arrivals) {
    const sent = a.id ? sentAt.get(a.id) : undefined;
    if (sent !== undefined && DECISIONS.includes(a.type)) latencies.push(a.at - sent);
  }
  const live = {
    offeredRate: rate,
    seconds,
    accepted: sentAt.size,
    achievedRate: Math.round(res.achievedRate),
    deliveries: latencies.length,
    missing: sentAt.size * endpointCount - latencies.length,
    p50Ms: round1(percentile(latencies, 50)),
    p99Ms: round1(percentile(latencies, 99)),
    maxMs: round1(Math.max(0, ...latencies)),
  };
  // Where the time goes: send -> decided (moderation), decided -> message written (outbox relay
  // and fan-out), written -> delivered (lease, queue, request), per message, p50 / p99 in ms.
  type StageRow = {
    id: string;
    decided: number;
    outbox_id: string;
    written: number;
    delivered: number | null;
  };
  const stageRows = await sql<StageRow>`
    select c.id, extract(epoch from c.decided_at) * 1000 as decided,
      m.outbox_id::text as outbox_id,
      extract(epoch from m.created_at) * 1000 as written, extract(epoch from m.delivered_at) * 1000 as delivered
    from comments c join webhook_messages m on m.comment_id = c.id
    where c.id = any(${[...sentAt.keys()]}::uuid[]) and m.event_type = any(${DECISIONS}::text[])`.execute(db);
  // When each decision's row reached the events queue: its fan-out job's creation time.
  const fanouts = await queues.events.getJobs(['completed', 'waiting', 'active', 'delayed'], 0, -1);
  const relayedAt = new Map<string, number>();
  for (const j of fanouts) {
    const data = j.data as FanoutJob;
    for (const id of data.outboxIds ?? (data.outboxId ? [data.outboxId] : [])) {
      relayedAt.set(id, Math.min(relayedAt.get(id) ?? Number.POSITIVE_INFINITY, j.timestamp));
    }
  }
  const relayed = (r: StageRow) => relayedAt.get(r.outbox_id) ?? null;
  const stage = (f: (r: StageRow) => number) => {
    const xs = stageRows.rows.map(f).filter((x) => Number.isFinite(x));
    return [round1(percentile(xs, 50)), round1(percentile(xs, 99))];
  };
  const after = (a: number | null, b: number | null) =>
    a === null || b === null ? Number.NaN : Number(b) - Number(a);
  const stages = {
    sendToDecided: stage((r) => Number(r.decided) - (sentAt.get(r.id) ?? Number.NaN)),
    decidedToWritten: stage((r) => after(r.decided, r.written)),
    // Of which: the decision's outbox row on the queue and marked (relay), then the fan-out.
    decidedToRelayed: stage((r) => after(r.decided, relayed(r))),
    relayedToWritten: stage((r) => after(relayed(r), r.written)),
    writtenToDelivered: stage((r) => after(r.written, r.delivered)),
  };
  Object.assign(live, { stagesP50P99: stages });
  log(`live: ${JSON.stringify(live)}`);
  const states = await sql<{ status: string; n: string }>`
    select status, count(*)::text as n from webhook_messages group by status order by status`.execute(db);
  console.log(
    JSON.stringify({
      backlog,
      live,
      receiverConnections: rx.connections,
      messages: Object.fromEntries(states.rows.map((r) => [r.status, Number(r.n)])),
      note: 'one shared machine: compare builds within one run',
    }),
  );
} catch (err) {
  failed = true;
  console.error('bench/webhooks failed:', err);
} finally {
  await Promise.all(children.map((c) => c.stop().catch(() => {})));
  await queues.close().catch(() => {});
  redis.disconnect();
  await rx.close();
  await db.destroy();
  await dropDatabase(dbUrl).catch(() => {});
  await deleteKeysWithPrefix(redisUrl, [prefix]).catch(() => {});
}
process.exit(failed ? 1 : 0);
