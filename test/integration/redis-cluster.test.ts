/**
 * Parley on a real Redis Cluster: three masters started here from the machine's redis-server,
 * REDIS_CLUSTER=true with a hash-tagged QUEUE_PREFIX, the real app and workers. Every multi-key
 * operation (BullMQ's scripts, the flood-control script, the velocity MULTI, the /readyz canary)
 * must work, and every key must land in the prefix's one slot, on the node that owns it.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRedisSettings } from '../../src/lib/redis-checks';
import { scanServer } from '../../src/lib/redis-keys';
import { isCluster } from '../../src/queue';
import { createTestContext, systemDecision, type TestContext } from '../helpers/context';
import { PrivateRedisCluster } from '../helpers/redis-cluster';

const unavailable = PrivateRedisCluster.unavailable();
if (unavailable) console.warn(`Skipping the Redis Cluster tests: ${unavailable}. CI installs redis-server.`);

// The learned classifier's scores move as it is retrained; these tests are about Redis.
const NO_CLASSIFIER = { rules: { classifier: { enabled: false } } };

const sentence = (n: number) =>
  `Comment number ${n} about the council budget, ${['ferries', 'schools', 'parks', 'roads'][n % 4]} and the harbour works this spring.`;

describe.skipIf(unavailable !== null)('Parley on a three-master Redis Cluster', () => {
  const prefix = `{parley-cluster-${randomBytes(4).toString('hex')}}`;
  let cluster: PrivateRedisCluster;
  let t: TestContext;

  beforeAll(async () => {
    cluster = await PrivateRedisCluster.start(3);
    t = await createTestContext({
      workers: true,
      env: {
        REDIS_URL: cluster.url,
        REDIS_CLUSTER: 'true',
        QUEUE_PREFIX: prefix,
        // Per-author flood control off, so the worker's velocity rule gets to count.
        RATE_SUBMIT_PER_AUTHOR: '0/60',
        RATE_SUBMIT_PER_ARTICLE: '5/60',
      },
    });
  });
  afterAll(async () => {
    try {
      await t?.close();
    } finally {
      await cluster?.stop();
    }
  });

  async function submit(siteId: string, articleId: string, body: Record<string, unknown>) {
    return t.submit(siteId, articleId, { authorName: 'Reader', ...body });
  }

  async function accepted(siteId: string, articleId: string, body: Record<string, unknown>): Promise<string> {
    const res = await submit(siteId, articleId, body);
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  }

  const decided = (id: string) => systemDecision(t, id);

  async function statusOf(id: string) {
    const row = await t.rt.db
      .selectFrom('comments')
      .select('status')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return row.status;
  }

  it('uses cluster clients and passes the start-up checks, which ask every master', async () => {
    expect(isCluster(t.rt.redis)).toBe(true);
    expect(isCluster(t.rt.producerRedis)).toBe(true);
    // Imported here: src/runtime loaded before the app (@hono/zod-openapi) breaks its route schemas.
    const { checkBackends } = await import('../../src/runtime');
    await checkBackends(t.config, t.rt.redis);
    const opts = { requireNoeviction: true, warnNoPersistence: true };
    const ok = await checkRedisSettings(t.rt.redis, opts);
    expect(Object.keys(ok.nodes ?? {}).sort()).toEqual(cluster.ports.map((p) => `127.0.0.1:${p}`).sort());
    expect(ok.errors).toEqual([]);
    // One evicting master is enough to refuse, and the message names it.
    const port = cluster.ports[1]!;
    await cluster.cli(port, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const bad = await checkRedisSettings(t.rt.redis, opts);
      expect(bad.errors).toHaveLength(1);
      expect(bad.errors[0]).toContain(`127.0.0.1:${port}:`);
      expect(bad.errors[0]).toContain('noeviction');
    } finally {
      await cluster.cli(port, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    }
  });

  it('has the real workers publish, hold and reject submitted comments', async () => {
    const siteId = await t.site({
      ...NO_CLASSIFIER,
      words: { suspect: ['scoundrel'] },
      links: { blockedDomains: ['spam.example'] },
    });
    const published = await accepted(siteId, 'decide', { body: sentence(1) });
    const held = await accepted(siteId, 'decide', {
      body: 'The minister is a scoundrel and everyone on this island knows it.',
    });
    const rejected = await accepted(siteId, 'decide', {
      body: 'I read the full analysis at https://spam.example/article and found it quite balanced overall.',
    });
    expect((await decided(published)).action).toBe('publish');
    expect((await decided(held)).action).toBe('hold');
    expect((await decided(rejected)).action).toBe('reject');
    expect([await statusOf(published), await statusOf(held), await statusOf(rejected)]).toEqual([
      'published',
      'held',
      'rejected',
    ]);
  });

  it('counts posting velocity in one MULTI on the cluster', async () => {
    const siteId = await t.site({
      ...NO_CLASSIFIER,
      velocity: { perAuthor: 2, perIp: 100, perArticle: 1000 },
    });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push(
        await accepted(siteId, 'velocity', { body: sentence(10 + i), authorEmail: 'fast@example.org' }),
      );
    const ds = await Promise.all(ids.map(decided));
    const codes = ds.flatMap((d) => (d.reasons as Array<{ code: string }>).map((r) => r.code));
    // Counts read (never "unavailable"), and exactly the third and fourth exceed 2.
    expect(codes).not.toContain('velocity_unavailable');
    expect(ds.filter((d) => d.reason_code === 'author_velocity').map((d) => d.action)).toEqual([
      'hold',
      'hold',
    ]);
  });

  it('answers 429 from flood-control counters kept on the cluster', async () => {
    const siteId = await t.site(NO_CLASSIFIER);
    const codes: number[] = [];
    for (let i = 0; i < 7; i++)
      codes.push((await submit(siteId, 'flood', { body: sentence(20 + i) })).status);
    expect(codes).toEqual([202, 202, 202, 202, 202, 429, 429]);
    // Counted in Redis (the in-memory fallback would also answer 429, but keeps nothing there).
    const key = `${prefix}:rl:submit_article:${siteId}:flood`;
    expect(await t.rt.redis.get(key)).toBe('7');
  });

  it('is ready: /readyz sends its canary job through the cluster to a worker', async () => {
    const res = await t.request('GET', '/readyz');
    const body = (await res.json()) as { status: string; checks: Record<string, string> };
    expect(body).toEqual({ status: 'ok', checks: { postgres: 'ok', redis: 'ok', queue: 'ok' } });
    expect(res.status).toBe(200);
  });

  it("keeps every key in the prefix's one slot, on the master that owns it", async () => {
    const slot = Number(await cluster.cli(cluster.ports[0]!, 'CLUSTER', 'KEYSLOT', prefix));
    const direct = cluster.ports.map(
      (port) => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, connectTimeout: 2000 }),
    );
    try {
      const ranges = (await direct[0]!.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
      const owner = ranges.find(([from, to]) => from <= slot && slot <= to)![2][1];
      const found = await Promise.all(direct.map((r) => scanServer(r, `${prefix}*`)));
      const byPort = Object.fromEntries(cluster.ports.map((p, i) => [p, found[i]!.length]));
      expect(byPort).toEqual(
        Object.fromEntries(cluster.ports.map((p, i) => [p, p === owner ? found[i]!.length : 0])),
      );
      const keys = found[cluster.ports.indexOf(owner)]!;
      // The queues, the flood-control counters and the velocity counters are all there.
      for (const part of [':moderate:', ':events:', ':rl:', ':velocity:'])
        expect(keys.some((k) => k.includes(part))).toBe(true);
      const ownerClient = direct[cluster.ports.indexOf(owner)]!;
      const slots = await Promise.all(keys.map((k) => ownerClient.call('CLUSTER', 'KEYSLOT', k)));
      expect(new Set(slots)).toEqual(new Set([slot]));
    } finally {
      for (const r of direct) r.disconnect();
    }
  });
});
