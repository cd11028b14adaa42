/**
 * The worker's posting-velocity counters against the real Redis: one script per batch counts
 * each comment in its own time bucket, adds the previous bucket by how much of it is still inside
 * the window, gives a new bucket its expiry once, and counts repeats within one batch in order.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Database } from '../../db/schema';
import { deleteKeysWithPrefix } from '../../src/lib/redis-keys';
import { defaultPolicy, parsePolicy } from '../../src/moderation/policy';
import { createRedis, type RedisClient } from '../../src/queue';
import type { ModerationRow } from '../../src/repositories/comments';
import type { SiteRecord } from '../../src/repositories/sites';
import { createContextLoader } from '../../workers/moderation-context';

const WINDOW = 60_000;
const prefix = `${inject('queuePrefix')}-velocity-${randomBytes(4).toString('hex')}`;
let redis: RedisClient;

// Only the velocity rule is on, so the loader never touches the database (none is given).
const site: SiteRecord = {
  id: 'site_velocity',
  name: 'Velocity',
  allowedOrigins: [],
  policy: parsePolicy({
    ...defaultPolicy,
    newCommenterHold: 0,
    rules: { duplicates: { enabled: false }, classifier: { enabled: false } },
  }),
  policyVersion: 1,
  createdAt: new Date(),
};

function row(n: number, at: number, who: { ip?: string; email?: string }, article = 'a1'): ModerationRow {
  return {
    id: `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    site_id: site.id,
    article_id: article,
    created_at: new Date(at),
    ip_hash: who.ip ?? null,
    email_hash: who.email ?? null,
  } as unknown as ModerationRow;
}

function loader() {
  return createContextLoader({
    db: undefined as unknown as Kysely<Database>,
    now: () => new Date(),
    redis,
    keyPrefix: prefix,
    velocityWindowMs: WINDOW,
  });
}

beforeAll(async () => {
  redis = createRedis(inject('redisUrl'), 'general');
  // This role fails fast instead of queueing commands, so wait until it is connected.
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
});
afterAll(async () => {
  await deleteKeysWithPrefix(redis, prefix);
  redis.disconnect();
});

describe('velocity counters', () => {
  it('counts a batch in order, per IP, author and article, in one bucket', async () => {
    const load = loader();
    // Well inside one bucket, so the previous bucket is empty.
    const t0 = Math.floor(Date.now() / WINDOW) * WINDOW + 1000;
    const rows = [
      row(1, t0, { ip: 'ip1', email: 'e1' }),
      row(2, t0 + 1, { ip: 'ip1', email: 'e2' }),
      row(3, t0 + 2, { ip: 'ip2', email: 'e1' }, 'a2'),
    ];
    const ctxs = await Promise.all(rows.map((r) => load(r, site)));
    const seen = ctxs.map((c) => [
      c.history?.recentByIp,
      c.history?.recentByAuthor,
      c.history?.recentByArticle,
    ]);
    // All three went in one batch; each comment counts itself and those before it.
    expect(seen).toEqual([
      [1, 1, 1],
      [2, 1, 2],
      [1, 2, 1],
    ]);
    expect(ctxs.every((c) => c.extra?.velocityUnavailable === undefined)).toBe(true);
  });

  it('adds the previous bucket weighted by how much of it is still in the window', async () => {
    const load = loader();
    const bucketStart = (Math.floor(Date.now() / WINDOW) - 5) * WINDOW;
    // Four comments in the previous bucket ...
    for (let i = 0; i < 4; i++) await load(row(10 + i, bucketStart - WINDOW + 10, { ip: 'ip-w' }), site);
    // ... then one a quarter into this bucket: three quarters of the previous one still count.
    const ctx = await load(row(20, bucketStart + WINDOW / 4, { ip: 'ip-w' }), site);
    expect(ctx.history?.recentByIp).toBe(1 + Math.floor(4 * 0.75));
  });

  it('gives a new bucket an expiry of two windows, set once', async () => {
    const load = loader();
    const at = Math.floor(Date.now() / WINDOW) * WINDOW + 500;
    await load(row(30, at, { ip: 'ip-ttl' }), site);
    const key = `${prefix}:velocity:${site.id}:ip:ip-ttl:${Math.floor(at / WINDOW)}`;
    const first = await redis.pttl(key);
    expect(first).toBeGreaterThan(WINDOW);
    expect(first).toBeLessThanOrEqual(2 * WINDOW);
    // A later increment leaves the expiry alone (it is not pushed back with every comment).
    await redis.pexpire(key, WINDOW);
    await load(row(31, at + 1, { ip: 'ip-ttl' }), site);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(WINDOW);
    expect(await redis.get(key)).toBe('2');
  });

  it("reads an edited comment's counts without counting it again, in the same batch as new ones", async () => {
    const load = loader();
    const at = Math.floor(Date.now() / WINDOW) * WINDOW + 2000;
    const first = row(50, at, { ip: 'ip-edit', email: 'e-edit' }, 'a-edit');
    expect((await load(first, site)).history?.recentByIp).toBe(1);
    // Its author edits it: moderated again, it is still one comment, however often it is edited.
    const edited = { ...first, revision: 1 } as ModerationRow;
    const other = row(51, at + 5, { ip: 'ip-edit' }, 'a-edit');
    const [again, next] = await Promise.all([load(edited, site), load(other, site)]);
    expect([
      again.history?.recentByIp,
      again.history?.recentByAuthor,
      again.history?.recentByArticle,
    ]).toEqual(
      // The new comment of the same batch may be counted before or after the read: 1 or 2.
      [expect.any(Number), 1, expect.any(Number)],
    );
    expect(again.history?.recentByIp).toBeLessThanOrEqual(2);
    expect(next.history?.recentByIp).toBe(2);
    const third = await load({ ...first, revision: 2 } as ModerationRow, site);
    expect(third.history?.recentByIp).toBe(2);
    expect(third.history?.recentByAuthor).toBe(1);
    const key = `${prefix}:velocity:${site.id}:ip:ip-edit:${Math.floor(at / WINDOW)}`;
    expect(await redis.get(key)).toBe('2');
  });

  it('reports the counts unavailable when Redis does not answer', async () => {
    const dead = createRedis('redis://127.0.0.1:1', 'general');
    try {
      const load = createContextLoader({
        db: undefined as unknown as Kysely<Database>,
        now: () => new Date(),
        redis: dead,
        keyPrefix: prefix,
        velocityWindowMs: WINDOW,
        redisTimeoutMs: 300,
      });
      const ctx = await load(row(40, Date.now(), { ip: 'ip-dead' }), site);
      expect(ctx.extra?.velocityUnavailable).toBe(true);
      expect(ctx.history?.recentByIp).toBeUndefined();
    } finally {
      dead.disconnect();
    }
  });
});
