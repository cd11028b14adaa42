/**
 * What the Redis Cluster drills share (redis-cluster-failover and redis-cluster-reshard): readers
 * submitting while the cluster changes under them, every answer recorded, and the checks that no
 * comment answered 202 is lost and that Parley is whole again afterwards.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { expect } from 'vitest';
import { createTestContext, type TestContext } from './context';
import { PrivateRedisCluster } from './redis-cluster';

/** cluster-node-timeout: a dead master is noticed, and its replica promoted, within a few seconds. */
export const NODE_TIMEOUT_MS = 1000;
/** Bounds on each wait: generous for a busy two-core machine, short enough to fail rather than hang. */
export const FAILOVER_WITHIN_MS = 15_000;
const DECIDED_WITHIN_MS = 20_000;
const ANSWER_WITHIN_MS = 10_000;
/**
 * The pending sweep re-queues a comment whose job died with a master before reaching its replica
 * (replication is asynchronous). Production sweeps every 10 s for comments pending 30 s; the same
 * loop runs in the drills, scaled down so a rescue takes seconds.
 */
export const SWEEP_AFTER_MS = 5000;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const sentence = (n: number) =>
  `Comment number ${n} about the council budget, ${['ferries', 'schools', 'parks', 'roads'][n % 4]} and the harbour works this spring.`;

/** One submission and Parley's answer (status 0: none within `answerWithinMs`). */
export interface Attempt {
  /** When it was sent (ms since the epoch). */
  at: number;
  status: number;
  id?: string;
  ms: number;
  error?: unknown;
}

/**
 * The drill's tools, for a test context and site made in `beforeAll` (hence the getters).
 */
export function clusterDrill(ctx: () => TestContext, site: () => string) {
  let serial = 0;

  async function submitOne(article: string): Promise<Attempt> {
    const n = serial++;
    const at = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const res = await Promise.race([
        ctx().submit(site(), article, { authorName: 'Reader', body: sentence(n) }),
        new Promise<null>((r) => {
          timer = setTimeout(() => r(null), ANSWER_WITHIN_MS);
        }),
      ]);
      if (!res) return { at, status: 0, ms: Date.now() - at };
      const body = (await res.json()) as { id?: string };
      const ms = Date.now() - at;
      return res.status === 202
        ? { at, status: 202, id: body.id, ms }
        : { at, status: res.status, ms, error: body };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Two readers submitting back to back until stopped (bounded by `maxMs`), every answer recorded. */
  function submitWhile(article: string, maxMs = 60_000) {
    const attempts: Attempt[] = [];
    const until = Date.now() + maxMs;
    let stopped = false;
    const lanes = [0, 1].map(async () => {
      while (!stopped && Date.now() < until) {
        attempts.push(await submitOne(article));
        await sleep(25);
      }
    });
    return {
      attempts,
      async stop() {
        stopped = true;
        await Promise.all(lanes);
        return attempts;
      },
    };
  }

  /** Of `ids`, those still pending, without a system decision, or missing (lost) after the wait. */
  async function undecided(ids: string[], withinMs = DECIDED_WITHIN_MS): Promise<string[]> {
    const db = ctx().rt.db;
    const deadline = Date.now() + withinMs;
    let left = ids;
    while (left.length && Date.now() < deadline) {
      const [rows, decisions] = await Promise.all([
        db.selectFrom('comments').select(['id', 'status']).where('id', 'in', left).execute(),
        db
          .selectFrom('moderation_decisions')
          .select('comment_id')
          .where('actor_type', '=', 'system')
          .where('comment_id', 'in', left)
          .execute(),
      ]);
      const notPending = new Set(rows.filter((r) => r.status !== 'pending').map((r) => r.id));
      const decided = new Set(decisions.map((d) => d.comment_id).filter((id) => notPending.has(id)));
      left = left.filter((id) => !decided.has(id));
      if (left.length) await sleep(200);
    }
    return left;
  }

  const acceptedIds = (attempts: Attempt[]) => attempts.filter((a) => a.status === 202).map((a) => a.id!);

  /** Five new comments, all accepted and decided before the sweep could have rescued them. */
  async function expectNewCommentsDecided(article: string) {
    const fresh = await Promise.all([0, 1, 2, 3, 4].map(() => submitOne(article)));
    expect(fresh.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    expect(await undecided(acceptedIds(fresh), SWEEP_AFTER_MS - 1000)).toEqual([]);
  }

  async function expectReady() {
    const deadline = Date.now() + FAILOVER_WITHIN_MS;
    let last: { status: number; body: unknown } | undefined;
    while (Date.now() < deadline) {
      const res = await ctx().request('GET', '/readyz');
      last = { status: res.status, body: await res.json() };
      if (res.status === 200) break;
      await sleep(200);
    }
    expect(last).toEqual({
      status: 200,
      body: { status: 'ok', checks: { postgres: 'ok', redis: 'ok', queue: 'ok' } },
    });
  }

  return { submitOne, submitWhile, undecided, acceptedIds, expectNewCommentsDecided, expectReady };
}

/** A connection to one node only, for looking at what that node holds. */
export async function onNode<T>(port: number, fn: (node: Redis) => Promise<T>): Promise<T> {
  const node = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, connectTimeout: 2000 });
  node.on('error', () => {});
  try {
    return await fn(node);
  } finally {
    node.disconnect();
  }
}

// The learned classifier's scores move as it is retrained; the drills are about Redis.
const NO_CLASSIFIER = { rules: { classifier: { enabled: false } } };

/**
 * Three masters with a replica each, and the real app and workers on them with a hash-tagged
 * prefix and the pending sweep scaled down to SWEEP_AFTER_MS. Flood control per IP and author is
 * off (the drills submit hundreds of comments from one absent address); `env` adds to that.
 */
export async function startDrillCluster(o: {
  prefix: string;
  workerLog: Logger;
  env?: Record<string, string>;
}) {
  const cluster = await PrivateRedisCluster.start(3, { replicas: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
  try {
    const t = await createTestContext({
      workers: true,
      env: {
        REDIS_URL: cluster.url,
        REDIS_CLUSTER: 'true',
        QUEUE_PREFIX: o.prefix,
        RATE_SUBMIT_PER_IP: '0/60',
        RATE_SUBMIT_PER_AUTHOR: '0/60',
        ...o.env,
      },
      workerOptions: { sweepIntervalMs: 1000, sweepAfterMs: SWEEP_AFTER_MS, logger: o.workerLog },
    });
    return { cluster, t, siteId: await t.site(NO_CLASSIFIER), slot: await cluster.slotOf(o.prefix) };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

export async function stopDrillCluster(t: TestContext | undefined, cluster: PrivateRedisCluster | undefined) {
  try {
    await t?.close();
  } finally {
    await cluster?.stop();
  }
}
