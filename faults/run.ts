/**
 * `npm run test:faults`: starts Parley's real processes (API and workers, as separate children)
 * against a private Postgres and a private Redis on loopback, drives bursts of comments through
 * them and breaks things mid-burst. After each scenario it checks, in Postgres: every 202 is a
 * stored comment that reaches a final state in bounded time, with exactly one system decision, no
 * outbox row is left unpublished, and no reader IP address is stored anywhere. Prints a table and
 * `N passed, N failed`; exits non-zero if any invariant failed.
 *
 * Knobs: FAULTS_COMMENTS (per burst, default 800), FAULTS_SECONDS (burst length, default 3),
 * FAULTS_ONLY (comma-separated scenario names), FAULTS_KEEP (keep the temp dir with the logs).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { createDb } from '../db/database';
import { createSite } from '../src/repositories/sites';
import { createToken } from '../src/repositories/tokens';
import { readerIp, runLoad, submitOnce } from './load';
import { freePort, PrivatePostgres, PrivateRedis, Proc, sleep, until } from './procs';

const ROOT = resolve(import.meta.dirname, '..');
const COMMENTS = Number(process.env.FAULTS_COMMENTS ?? 800);
const SECONDS = Number(process.env.FAULTS_SECONDS ?? 3);
const ONLY = (process.env.FAULTS_ONLY ?? '').split(',').filter(Boolean);
const SUITE_TIMEOUT_MS = Number(process.env.FAULTS_TIMEOUT_MS ?? 15 * 60_000);
const RECOVER_BOUND_MS = 60_000;
const WEBHOOK_BOUND_MS = 75_000;
const LOCK_MS = 2000;
const GRACE_MS = 5000;
const ORIGIN = 'https://news.example';

const rows: Row[] = [];
let current = '';

interface Row {
  scenario: string;
  accepted: number;
  lost: number;
  duplicated: number;
  recoverMs: number | null;
  violations: string[];
  note?: string;
  webhooks?: string;
}

const dir = mkdtempSync(join(tmpdir(), 'parley-faults-'));
const prefix = `parley-faults-${randomBytes(3).toString('hex')}`;
let redis: PrivateRedis;
let postgres: PrivatePostgres;
let api: Proc;
let worker: Proc;
let worker2: Proc;
let apiPort: number;
let pool: pg.Pool;
const baseUrl = () => `http://127.0.0.1:${apiPort}`;

function env(): Record<string, string> {
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    DATABASE_URL: postgres.url,
    DATABASE_POOL_MAX: '10',
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    PARLEY_SECRET: 'faults-secret-0123456789abcdef',
    LOG_LEVEL: 'warn',
    DEMO: 'false',
    // The load generator is the "proxy": it speaks for many readers from 127.0.0.1.
    TRUSTED_PROXIES: '127.0.0.1,::1',
    RATE_SUBMIT_PER_IP: '100000/60',
    RATE_SUBMIT_PER_AUTHOR: '100000/60',
    RATE_SUBMIT_PER_ARTICLE: '1000000/60',
    SWEEP_AFTER_MS: '3000',
    SWEEP_INTERVAL_MS: '1000',
    RELAY_INTERVAL_MS: '200',
    WORKER_LOCK_MS: String(LOCK_MS),
    WORKER_STALLED_INTERVAL_MS: '1000',
    SHUTDOWN_GRACE_MS: String(GRACE_MS),
    WORKER_CONCURRENCY: '32',
    WORKER_METRICS_PORT: '0',
    READYZ_CANARY_TIMEOUT_MS: '2000',
    WEBHOOKS_ALLOW_LOOPBACK: 'true',
    WEBHOOKS_ENDPOINT_CONCURRENCY: '16',
    WEBHOOKS_DISPATCH_INTERVAL_MS: '200',
    WEBHOOKS_TIMEOUT_MS: '5000',
  };
}

const node = (name: string, entry: string) =>
  new Proc(name, process.execPath, ['--import', 'tsx', entry], {
    env: env(),
    cwd: ROOT,
    logFile: join(dir, `${name}.log`),
  });

async function get(path: string, timeoutMs = 3000): Promise<number> {
  try {
    const res = await fetch(`${baseUrl()}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function startApi(): Promise<void> {
  api.start();
  if (!(await until(async () => (await get('/healthz')) === 200, 30_000, 200))) {
    throw new Error(`API did not come up:\n${api.tail()}`);
  }
}

/** Ready means a worker answered the canary through the queue. */
async function waitReady(ms = 30_000): Promise<boolean> {
  return until(async () => (await get('/readyz')) === 200, ms, 200);
}

async function ensureRunning(): Promise<void> {
  if (!redis.proc.running) await redis.start();
  if (!api.running) await startApi();
  if (!worker.running) worker.start();
  if (!(await waitReady())) throw new Error(`not ready:\n${api.tail()}\n${worker.tail()}`);
}

/**
 * The webhook receiver: answers 200 at once and counts, per webhook-id, how many deliveries it
 * answered 2xx, to check at-least-once with one webhook-id and no re-send after a recorded 2xx.
 */
const received = new Map<string, number>();
let receiver: Server | undefined;
let receiverPort = 0;
let webhooksAvailable: boolean | undefined;

async function startReceiver(): Promise<void> {
  receiver = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id'] ?? '');
      if (id) received.set(id, (received.get(id) ?? 0) + 1);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', () => r()));
  receiverPort = (receiver.address() as { port: number }).port;
}

async function newSite(name: string): Promise<string> {
  const db = createDb({ url: postgres.url, poolMax: 1 });
  try {
    const site = await db.transaction().execute((trx) => createSite(trx, { name, allowedOrigins: [ORIGIN] }));
    // Subscribe the receiver to the decision events through the real admin API.
    const { token } = await createToken(db, { siteId: site.id, role: 'admin', name: 'faults' });
    const res = await fetch(`${baseUrl()}/api/v1/admin/sites/${site.id}/webhooks/endpoints`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({
        url: `http://127.0.0.1:${receiverPort}/hook/${name}`,
        eventTypes: ['comment.published', 'comment.held', 'comment.rejected'],
      }),
    }).catch(() => undefined);
    webhooksAvailable = res?.status === 201;
    if (!webhooksAvailable)
      console.log(`  (webhooks not available: endpoint creation answered ${res?.status ?? 'nothing'})`);
    return site.id;
  } finally {
    await db.destroy();
  }
}

/** At-least-once delivery of every message of the site; no re-send after a recorded 2xx. */
async function checkWebhooks(siteId: string): Promise<{ violations: string[]; note: string }> {
  if (!webhooksAvailable) return { violations: [], note: 'webhooks not checked' };
  const violations: string[] = [];
  // One decision event per comment is subscribed; lost fan-out jobs are found again by the
  // webhook workers' own sweep (every 30 s), hence the longer bound.
  let unsent = 0;
  let missingMsgs = 0;
  const started = Date.now();
  const done = await until(
    async () => {
      const r = (
        await q<{ comments: string; msgs: string; unsent: string }>(
          `select (select count(*) from comments where site_id = $1 and status <> 'pending') comments,
                  (select count(*) from webhook_messages where site_id = $1) msgs,
                  (select count(*) from webhook_messages where site_id = $1 and status <> 'succeeded') unsent`,
          [siteId],
        )
      )[0]!;
      unsent = Number(r.unsent);
      missingMsgs = Math.max(0, Number(r.comments) - Number(r.msgs));
      return unsent === 0 && missingMsgs === 0;
    },
    WEBHOOK_BOUND_MS,
    250,
  );
  if (!done) {
    if (missingMsgs)
      violations.push(
        `${missingMsgs} decisions without a webhook message after ${WEBHOOK_BOUND_MS / 1000} s`,
      );
    if (unsent)
      violations.push(`${unsent} webhook messages not delivered within ${WEBHOOK_BOUND_MS / 1000} s`);
  }
  const deliveredMs = Date.now() - started;
  const msgs = await q<{ id: string; successes: string }>(
    `select m.id, (select count(*) from webhook_attempts a where a.message_id = m.id and a.outcome = 'success') successes
       from webhook_messages m where m.site_id = $1`,
    [siteId],
  );
  const never = msgs.filter((m) => !received.has(m.id)).length;
  if (never) violations.push(`${never} webhook messages marked or pending but never received`);
  let twice = 0;
  let resentAfterRecorded = 0;
  for (const m of msgs) {
    const n = received.get(m.id) ?? 0;
    if (n > 1) {
      twice++;
      // Two recorded successes means it was sent again after the first 2xx was recorded.
      if (Number(m.successes) > 1) resentAfterRecorded++;
    }
  }
  if (resentAfterRecorded)
    violations.push(`${resentAfterRecorded} webhook-ids delivered again after a recorded 2xx`);
  return {
    violations,
    note: `webhooks: ${msgs.length} messages all delivered ${(deliveredMs / 1000).toFixed(1)} s after the comments settled, ${twice} received twice (first 2xx not recorded)`,
  };
}

async function q<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await pool.query<T>(text, values)).rows;
}

/**
 * The invariants, for one scenario's site. Waits (bounded) for every comment to be decided and
 * the outbox to drain; `since` is when the fault ended, for "time to recover".
 */
async function check(
  name: string,
  siteId: string,
  accepted: Map<string, string>,
  since: number,
  ips: Set<string>,
): Promise<Row> {
  const violations: string[] = [];
  const ids = [...accepted.values()].flatMap((v) => v.split(','));
  const doubleIds = [...accepted.values()].filter((v) => v.includes(',')).length;
  if (doubleIds) violations.push(`${doubleIds} idempotency keys answered with two different ids`);

  let recoverMs: number | null = null;
  let missing: string[] = [];
  let pending = 0;
  const settled = await until(
    async () => {
      const found = await q<{ id: string }>('select id from comments where id = any($1::uuid[])', [ids]);
      const have = new Set(found.map((r) => r.id));
      missing = ids.filter((id) => !have.has(id));
      pending = Number(
        (
          await q<{ n: string }>(
            "select count(*) n from comments where site_id = $1 and status = 'pending'",
            [siteId],
          )
        )[0]!.n,
      );
      return missing.length === 0 && pending === 0;
    },
    RECOVER_BOUND_MS,
    200,
  );
  if (settled) recoverMs = Math.max(0, Date.now() - since);
  if (missing.length) violations.push(`${missing.length} comments answered 202 are not in the database`);
  if (pending) violations.push(`${pending} comments still pending after ${RECOVER_BOUND_MS / 1000}s`);

  const decisions = await q<{ id: string; n: string }>(
    `select c.id, count(d.id) n from comments c
       left join moderation_decisions d on d.comment_id = c.id and d.actor_type = 'system'
      where c.site_id = $1 group by c.id having count(d.id) <> 1`,
    [siteId],
  );
  const twice = decisions.filter((d) => Number(d.n) > 1).length;
  const never = decisions.filter((d) => Number(d.n) === 0).length;
  if (twice) violations.push(`${twice} comments with more than one system decision`);
  if (never) violations.push(`${never} comments with no system decision`);
  const keyDupes = Number(
    (
      await q<{ n: string }>(
        'select count(*) n from (select idempotency_key from comments where site_id = $1 and idempotency_key is not null group by 1 having count(*) > 1) x',
        [siteId],
      )
    )[0]!.n,
  );
  if (keyDupes) violations.push(`${keyDupes} idempotency keys stored more than once`);

  const drained = await until(
    async () =>
      Number(
        (
          await q<{ n: string }>(
            'select (select count(*) from outbox where published_at is null and not batched) + (select count(*) from outbox_batches) n',
          )
        )[0]!.n,
      ) === 0,
    20_000,
    200,
  );
  if (!drained) violations.push('outbox rows left unpublished');

  const ipHits = await scanForIps(ips);
  if (ipHits.length) violations.push(`plain reader IPs stored in ${ipHits.join(', ')}`);

  const hooks = await checkWebhooks(siteId);
  violations.push(...hooks.violations);

  return {
    webhooks: hooks.note,
    scenario: name,
    accepted: ids.length,
    lost: missing.length + (settled ? 0 : pending),
    duplicated: twice + keyDupes + doubleIds,
    recoverMs,
    violations,
  };
}

/** Every text-like column of every table, searched for the load generator's addresses. */
async function scanForIps(ips: Set<string>): Promise<string[]> {
  const cols = await q<{ table_name: string; column_name: string }>(
    `select table_name, column_name from information_schema.columns
      where table_schema = 'public' and data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'inet', 'cidr', 'ARRAY')`,
  );
  // The generator's ranges (TEST-NET-2/3, 2001:db8::/32), matched as address text.
  const pattern = '(^|[^0-9])(198\\.51\\.100\\.[0-9]|203\\.0\\.113\\.[0-9])|2001:db8:';
  const hits: string[] = [];
  for (const c of cols) {
    const t = pg.escapeIdentifier(c.table_name);
    const col = pg.escapeIdentifier(c.column_name);
    const r = await q<{ n: string }>(`select count(*) n from ${t} where ${col}::text ~* $1`, [pattern]);
    if (Number(r[0]!.n) > 0) hits.push(`${c.table_name}.${c.column_name}`);
  }
  if (!ips.size) hits.push('(no addresses were generated)');
  return hits;
}

async function burst(
  name: string,
  at: Array<{ fraction: number; run: () => Promise<void> | void }>,
  opts: { total?: number; faultEnd?: () => number } = {},
): Promise<Row & { attempts: Awaited<ReturnType<typeof runLoad>>['attempts'] }> {
  const siteId = await newSite(name);
  const loadStart = Date.now();
  const load = await runLoad({
    baseUrl: baseUrl(),
    siteId,
    origin: ORIGIN,
    total: opts.total ?? COMMENTS,
    durationMs: SECONDS * 1000,
    concurrency: 48,
    at,
  });
  const loadEnd = Date.now();
  // A process that died by itself during the burst is a failure; restart it so the rest can run.
  const crashed: string[] = [];
  for (const p of [api, worker]) {
    if (p.running) continue;
    crashed.push(
      `${p.name} exited by itself (code ${p.exitCode}, signal ${p.exitSignal}): ${p.tail(3).slice(0, 300)}`,
    );
    if (p === api) await startApi();
    else p.start();
  }
  // Time to recover counts from the later of the fault clearing and the burst ending.
  const since = Math.max(opts.faultEnd?.() ?? 0, loadEnd);
  const row = await check(name, siteId, load.accepted, since, load.ips);
  row.violations.unshift(...crashed);
  const codes = Object.entries(load.statusCounts)
    .map(([k, v]) => `${k === '0' ? 'no answer' : k}:${v}`)
    .join(' ');
  row.note = `load ${((loadEnd - loadStart) / 1000).toFixed(1)} s, ${codes}`;
  return { ...row, attempts: load.attempts };
}

/** Requests that started inside [from, to] must have been answered (any status) within `maxMs`. */
function slowAnswers(
  attempts: { startedAt: number; ms: number; status: number }[],
  from: number,
  to: number,
  maxMs: number,
) {
  return attempts.filter((a) => a.startedAt >= from && a.startedAt <= to && a.ms > maxMs).length;
}

// ---------------------------------------------------------------------------------------------

const scenarios: Record<string, () => Promise<Row>> = {
  async baseline() {
    return burst('baseline', []);
  },

  async 'idempotency-key'() {
    const siteId = await newSite('idempotency');
    const violations: string[] = [];
    const keys = 200;
    const ids = new Map<string, Set<string>>();
    const ips = new Set<string>();
    for (let i = 0; i < keys; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const n = i + j;
          const key = `idem-${prefix}-${n}`;
          const ip = readerIp(n);
          ips.add(ip);
          // The same submission twice at once, then once more later (a client retry).
          const rs = await Promise.all(
            [0, 1].map(() => submitOnce({ baseUrl: baseUrl(), siteId, origin: ORIGIN }, n, key, 'idem', ip)),
          );
          rs.push(await submitOnce({ baseUrl: baseUrl(), siteId, origin: ORIGIN }, n, key, 'idem', ip));
          const set = new Set(rs.filter((r) => r.status === 202).map((r) => r.id!));
          if (rs.some((r) => r.status !== 202))
            violations.push(`key ${n}: statuses ${rs.map((r) => r.status).join('/')}`);
          ids.set(key, set);
        }),
      );
    }
    const multi = [...ids.values()].filter((s) => s.size > 1).length;
    if (multi) violations.push(`${multi} keys answered with different comment ids`);
    const stored = Number(
      (await q<{ n: string }>('select count(*) n from comments where site_id = $1', [siteId]))[0]!.n,
    );
    if (stored !== keys) violations.push(`${stored} comments stored for ${keys} keys`);
    const accepted = new Map(
      [...ids].map(([k, s]) => [k, [...s][0] ?? '']).filter(([, v]) => v) as [string, string][],
    );
    const row = await check('idempotency-key', siteId, accepted, Date.now(), ips);
    row.violations.unshift(...violations.slice(0, 5));
    row.duplicated += multi + Math.max(0, stored - keys);
    row.note = `${keys} keys x 3 sends, ${stored} stored`;
    return row;
  },

  async 'worker-kill-9-twice'() {
    let faultEnd = 0;
    let chain = Promise.resolve();
    const kill = () => {
      chain = chain.then(async () => {
        worker.signal('SIGKILL');
        await worker.waitExit(5000);
        await sleep(300);
        worker.start();
        faultEnd = Date.now();
      });
      return chain;
    };
    const row = await burst(
      'worker-kill-9-twice',
      [
        { fraction: 0.25, run: kill },
        { fraction: 0.6, run: kill },
      ],
      { faultEnd: () => faultEnd },
    );
    if (worker.exitSignal !== null && worker.running === false) row.violations.push('worker did not restart');
    return row;
  },

  async 'worker-blocked-past-lock'() {
    // A second worker takes over the stalled jobs while the first is frozen (SIGSTOP stops its
    // event loop exactly as a long synchronous computation would: no lock renewals).
    worker2.start();
    await sleep(2500);
    let faultEnd = 0;
    const row = await burst(
      'worker-blocked-past-lock',
      [
        {
          fraction: 0.3,
          run: async () => {
            worker.signal('SIGSTOP');
            await sleep(LOCK_MS * 2 + 1500);
            worker.signal('SIGCONT');
            faultEnd = Date.now();
          },
        },
      ],
      { faultEnd: () => faultEnd },
    );
    const stalls = (worker.tail(100_000) + worker2.tail(100_000))
      .split('\n')
      .filter((l) => l.includes('stalled; running it again')).length;
    row.note = `${row.note}; stalled jobs re-run: ${stalls}`;
    await worker2.stop(GRACE_MS + 2000);
    return row;
  },

  async 'sigterm-api-and-workers'() {
    const violations: string[] = [];
    let faultEnd = 0;
    let stopNote = '';
    const row = await burst(
      'sigterm-api-and-workers',
      [
        {
          fraction: 0.5,
          run: async () => {
            const t0 = Date.now();
            api.signal('SIGTERM');
            worker.signal('SIGTERM');
            const [a, w] = await Promise.all([
              api.waitExit(GRACE_MS + 1000),
              worker.waitExit(GRACE_MS + 1000),
            ]);
            if (!a) violations.push(`API did not exit within ${GRACE_MS + 1000} ms of SIGTERM`);
            if (!w) violations.push(`workers did not exit within ${GRACE_MS + 1000} ms of SIGTERM`);
            if (api.exitCode !== 0)
              violations.push(`API exit code ${api.exitCode} (${api.exitSignal ?? 'no signal'})`);
            if (worker.exitCode !== 0)
              violations.push(`workers exit code ${worker.exitCode} (${worker.exitSignal ?? 'no signal'})`);
            const active = Number(redis.cli('LLEN', `${prefix}:moderate:active`));
            if (active) violations.push(`${active} jobs left active (would stall) after the workers stopped`);
            const stopMs = Date.now() - t0;
            await startApi();
            worker.start();
            faultEnd = Date.now();
            stopNote = `both stopped in ${stopMs} ms`;
          },
        },
      ],
      { faultEnd: () => faultEnd },
    );
    row.violations.unshift(...violations);
    row.note = `${row.note}; ${stopNote}`;
    return row;
  },

  async 'redis-flushall'() {
    let faultEnd = 0;
    return burst(
      'redis-flushall',
      [
        {
          fraction: 0.5,
          run: () => {
            redis.cli('FLUSHALL');
            faultEnd = Date.now();
          },
        },
      ],
      { faultEnd: () => faultEnd },
    );
  },

  async 'redis-restart'() {
    let down = 0;
    let up = 0;
    const row = await burst(
      'redis-restart',
      [
        {
          fraction: 0.4,
          run: async () => {
            down = Date.now();
            await redis.kill();
            await sleep(1000);
            await redis.start();
            up = Date.now();
          },
        },
      ],
      { faultEnd: () => up },
    );
    const slow = slowAnswers(row.attempts, down, up, 1500);
    if (slow) row.violations.push(`${slow} requests took over 1.5 s while Redis was down`);
    return row;
  },

  async 'redis-down-at-start-and-request'() {
    const violations: string[] = [];
    const t0 = Date.now();
    await api.stop(GRACE_MS + 2000);
    await redis.kill();
    // Start-up with Redis down: a quick refusal with a message, never a hang.
    api.start();
    const exited = await api.waitExit(15_000);
    if (!exited) violations.push('API with Redis down neither started nor exited within 15 s');
    else if (api.exitCode === 0) violations.push('API with Redis down exited 0');
    else if (!/Redis/.test(api.tail(20))) violations.push('API start-up refusal does not mention Redis');
    const refuseMs = Date.now() - t0;
    await api.stop();
    // A request arriving while Redis is down: a fast 503.
    await redis.start();
    await startApi();
    await redis.kill();
    await sleep(200);
    const siteId = await newSite('redis-down');
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        submitOnce({ baseUrl: baseUrl(), siteId, origin: ORIGIN }, n, `rd-${prefix}-${n}`, 'rd', readerIp(n)),
      ),
    );
    const not503 = answers.filter((a) => a.status !== 503).length;
    const slow = answers.filter((a) => a.ms > 1000).length;
    if (not503) violations.push(`${not503} of 20 requests were not answered 503 while Redis was down`);
    if (slow) violations.push(`${slow} of 20 requests took over 1 s while Redis was down`);
    const readyStarted = Date.now();
    const ready = await get('/readyz', 5000);
    if (ready !== 503) violations.push(`/readyz answered ${ready} while Redis was down`);
    const readyMs = Date.now() - readyStarted;
    await redis.start();
    const back = Date.now();
    // Recovers by itself: submissions are accepted again without restarting anything.
    const recovered = await until(
      async () =>
        (
          await submitOnce(
            { baseUrl: baseUrl(), siteId, origin: ORIGIN },
            99,
            `rd-${prefix}-back`,
            'rd',
            readerIp(99),
          )
        ).status === 202,
      20_000,
      200,
    );
    if (!recovered) violations.push('submissions not accepted again within 20 s of Redis returning');
    const row = await check(
      'redis-down-at-start-and-request',
      siteId,
      new Map(),
      back,
      new Set([readerIp(1)]),
    );
    row.violations.unshift(...violations);
    row.accepted = recovered ? 1 : 0;
    row.note = `start refused in ${refuseMs} ms; 503s in <= ${Math.max(...answers.map((a) => a.ms))} ms; /readyz in ${readyMs} ms`;
    return row;
  },

  async 'postgres-restart'() {
    let down = 0;
    let up = 0;
    const row = await burst(
      'postgres-restart',
      [
        {
          fraction: 0.4,
          run: async () => {
            down = Date.now();
            await pool.end().catch(() => {});
            await postgres.restart();
            up = Date.now();
            pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
            pool.on('error', () => {});
          },
        },
      ],
      { faultEnd: () => up },
    );
    // While Postgres restarts, answers must come quickly (503), never hang.
    const slow = slowAnswers(row.attempts, down, up, 3500);
    if (slow) row.violations.push(`${slow} requests took over 3.5 s while Postgres restarted`);
    row.note = `${row.note}; down ${up - down} ms`;
    return row;
  },
};

// ---------------------------------------------------------------------------------------------

function fmtMs(ms: number | null): string {
  return ms === null ? 'not recovered' : `${(ms / 1000).toFixed(1)} s`;
}

function printTable(rows: Row[]): void {
  const head = ['scenario', 'accepted', 'lost', 'duplicated', 'time to recover', 'result'];
  const body = rows.map((r) => [
    r.scenario,
    String(r.accepted),
    String(r.lost),
    String(r.duplicated),
    fmtMs(r.recoverMs),
    r.violations.length ? 'FAIL' : 'pass',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  for (const b of body) console.log(line(b));
  console.log('');
  for (const r of rows) {
    if (r.note) console.log(`  ${r.scenario}: ${r.note}${r.webhooks ? `; ${r.webhooks}` : ''}`);
    for (const v of r.violations) console.log(`  ${r.scenario}: VIOLATION ${v}`);
  }
}

async function cleanup(): Promise<void> {
  await Promise.all([api?.stop(3000), worker?.stop(3000), worker2?.stop(3000)].filter(Boolean));
  for (const p of [worker, worker2]) if (p?.running) p.signal('SIGCONT');
  await redis?.kill();
  receiver?.close();
  await pool?.end().catch(() => {});
  await postgres?.stop();
  if (!process.env.FAULTS_KEEP) rmSync(dir, { recursive: true, force: true });
  else console.log(`logs kept in ${dir}`);
}

async function main(): Promise<number> {
  const t0 = Date.now();
  if (!PrivatePostgres.available())
    throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  postgres = new PrivatePostgres(join(dir, 'pg'), await freePort());
  redis = new PrivateRedis(await freePort(), join(dir, 'redis.log'));
  apiPort = await freePort();
  await Promise.all([postgres.init(), redis.start(), startReceiver()]);
  // The API creates and migrates its database on start.
  pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
  pool.on('error', () => {});
  api = node('api', 'src/server.ts');
  worker = node('worker', 'workers/main.ts');
  worker2 = node('worker2', 'workers/main.ts');
  await startApi();
  worker.start();
  if (!(await waitReady(45_000))) throw new Error(`workers never answered the canary:\n${worker.tail()}`);
  console.log(
    `parley faults: ${COMMENTS} comments over ${SECONDS}s per burst; private Postgres :${postgres.port}, Redis :${redis.port}; logs in ${dir}\n`,
  );

  for (const [name, run] of Object.entries(scenarios)) {
    if (ONLY.length && !ONLY.includes(name)) continue;
    const started = Date.now();
    current = name;
    try {
      await ensureRunning();
      rows.push(await run());
    } catch (err) {
      rows.push({
        scenario: name,
        accepted: 0,
        lost: 0,
        duplicated: 0,
        recoverMs: null,
        violations: [`crashed: ${(err as Error).message}`],
      });
    }
    const r = rows[rows.length - 1]!;
    console.log(
      `  ${name}: ${r.violations.length ? 'FAIL' : 'pass'} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  console.log('');
  printTable(rows);
  const failed = rows.filter((r) => r.violations.length).length;
  console.log(`\nsuite took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`${rows.length - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

const watchdog = setTimeout(() => {
  console.error(`parley faults: suite exceeded ${SUITE_TIMEOUT_MS / 1000} s; stopping`);
  // Still report what finished, and count the scenario that was running as failed.
  if (current && !rows.some((r) => r.scenario === current)) {
    rows.push({
      scenario: current,
      accepted: 0,
      lost: 0,
      duplicated: 0,
      recoverMs: null,
      violations: ['suite watchdog fired'],
    });
  }
  printTable(rows);
  const failed = rows.filter((r) => r.violations.length).length;
  console.log(`${rows.length - failed} passed, ${failed} failed`);
  void cleanup().finally(() => process.exit(1));
}, SUITE_TIMEOUT_MS);
watchdog.unref();
process.on('SIGINT', () => void cleanup().finally(() => process.exit(130)));

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error('parley faults: setup failed:', err);
  console.log('0 passed, 1 failed');
} finally {
  await cleanup();
}
process.exit(code);
