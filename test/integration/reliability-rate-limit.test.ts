/**
 * Flood control through a real listening server, so the client address comes from a real socket
 * and X-Forwarded-For is believed only from TRUSTED_PROXIES.
 */
import { type AddressInfo, createServer } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { clientIp } from '../../src/lib/client-ip';
import { createRateLimiter, limitReport } from '../../src/lib/rate-limit';
import { createRedis } from '../../src/queue';
import { createTestContext, TEST_ORIGIN, type TestContext, waitFor } from '../helpers/context';

const open: Array<{ t: TestContext; close: () => Promise<void> }> = [];

async function listen(env: Record<string, string>) {
  const t = await createTestContext({ env: { READYZ_CANARY_TIMEOUT_MS: '0', ...env } });
  const server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((r) => server.once('listening', () => r()));
  const port = (server.address() as AddressInfo).port;
  const close = async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await t.close();
  };
  open.push({ t, close });
  const post = (
    siteId: string,
    article: string,
    body: Record<string, unknown>,
    headers: Record<string, string> = {},
  ) =>
    fetch(`http://127.0.0.1:${port}/api/v1/sites/${siteId}/articles/${article}/comments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: TEST_ORIGIN, ...headers },
      body: JSON.stringify(body),
    });
  return { t, post };
}

/** A Redis client on a port nothing listens on: every command fails at once. */
async function deadRedis() {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const deadPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return createRedis(`redis://127.0.0.1:${deadPort}`, 'general');
}

afterEach(async () => {
  while (open.length) await open.pop()!.close();
});
afterAll(async () => {
  while (open.length) await open.pop()!.close();
});

const comment = (n: number, extra: Record<string, unknown> = {}) => ({
  authorName: `Reader ${n}`,
  body: `A considered thought about the council budget, number ${n}.`,
  ...extra,
});

describe('flood control on submissions', () => {
  it('limits a flooder by IP hash while other readers behind the same proxy still get through', async () => {
    const { t, post } = await listen({ TRUSTED_PROXIES: '127.0.0.1', RATE_SUBMIT_PER_IP: '5/60' });
    const siteId = await t.site();
    const flood = [];
    for (let i = 0; i < 12; i++) {
      flood.push(await post(siteId, 'breaking', comment(i), { 'x-forwarded-for': '198.51.100.66' }));
    }
    const codes = flood.map((r) => r.status);
    expect(codes.filter((c) => c === 202)).toHaveLength(5);
    expect(codes.filter((c) => c === 429)).toHaveLength(7);
    const limited = flood.find((r) => r.status === 429)!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get('content-type')).toContain('application/problem+json');
    expect(((await limited.json()) as { code: string }).code).toBe('rate_limited');

    // Other readers, each their own address in X-Forwarded-For, are unaffected.
    for (let i = 0; i < 8; i++) {
      const res = await post(siteId, 'breaking', comment(100 + i), {
        'x-forwarded-for': `198.51.100.${10 + i}`,
      });
      expect(res.status).toBe(202);
    }
    // Only the accepted ones were stored.
    const stored = await t.rt.db
      .selectFrom('comments')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('site_id', '=', siteId)
      .executeTakeFirstOrThrow();
    expect(Number(stored.n)).toBe(13);
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy (no escaping the limit by spoofing)', async () => {
    const { t, post } = await listen({ TRUSTED_PROXIES: '10.9.9.9', RATE_SUBMIT_PER_IP: '3/60' });
    const siteId = await t.site();
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      codes.push((await post(siteId, 'a', comment(i), { 'x-forwarded-for': `203.0.113.${i + 1}` })).status);
    }
    expect(codes).toEqual([202, 202, 202, 429, 429, 429]);
  });

  it('limits one author (by email hash) across addresses, and one article across everyone', async () => {
    const { t, post } = await listen({
      TRUSTED_PROXIES: '127.0.0.1',
      RATE_SUBMIT_PER_AUTHOR: '2/60',
      RATE_SUBMIT_PER_ARTICLE: '6/60',
    });
    const siteId = await t.site();
    const author: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await post(siteId, 'one', comment(i, { authorEmail: 'troll@example.org' }), {
        'x-forwarded-for': `198.51.100.${i + 1}`,
      });
      author.push(res.status);
    }
    expect(author).toEqual([202, 202, 429, 429]);
    // The author's count is this site's: on another site they start afresh.
    const elsewhere = await post(await t.site(), 'one', comment(9, { authorEmail: 'troll@example.org' }), {
      'x-forwarded-for': '198.51.100.9',
    });
    expect(elsewhere.status).toBe(202);

    const article: number[] = [];
    for (let i = 0; i < 8; i++) {
      article.push(
        (await post(siteId, 'hot', comment(i), { 'x-forwarded-for': `198.51.100.${50 + i}` })).status,
      );
    }
    expect(article.filter((c) => c === 202)).toHaveLength(6);
    expect(article.slice(6)).toEqual([429, 429]);
  });

  it('asks a request over several limits to wait for the one that frees up last', async () => {
    const { t, post } = await listen({ RATE_SUBMIT_PER_IP: '1/30', RATE_SUBMIT_PER_AUTHOR: '1/90' });
    const siteId = await t.site();
    const first = await post(siteId, 'one', comment(1, { authorEmail: 'twice@example.org' }));
    expect(first.status).toBe(202);
    const second = await post(siteId, 'one', comment(2, { authorEmail: 'twice@example.org' }));
    expect(second.status).toBe(429);
    const problem = (await second.json()) as { limits: string[] };
    expect(problem.limits.sort()).toEqual(['submit_author', 'submit_ip']);
    const wait = Number(second.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(30);
    expect(wait).toBeLessThanOrEqual(90);
  });

  it("applies a site's own limits from its policy in place of the server's, scope by scope", async () => {
    const { t, post } = await listen({
      TRUSTED_PROXIES: '127.0.0.1',
      RATE_SUBMIT_PER_IP: '4/60',
      RATE_SUBMIT_PER_ARTICLE: '3/60',
    });
    // A newsroom expecting a breaking-news thread; a site that leaves everything to the server; a
    // site whose readers all come through one unlisted gateway, so per-reader counting is off.
    const breaking = await t.site({ floodControl: { perArticle: { points: 8, seconds: 60 } } });
    const plain = await t.site();
    const gateway = await t.site({ floodControl: { perIp: { points: 0, seconds: 60 } } });

    const burst = async (
      siteId: string,
      n: number,
      from: (i: number) => string,
      article = (_i: number) => 'hot',
    ) => {
      const codes: number[] = [];
      for (let i = 0; i < n; i++) {
        codes.push((await post(siteId, article(i), comment(i), { 'x-forwarded-for': from(i) })).status);
      }
      return codes;
    };
    const many = (i: number) => `198.51.100.${i + 1}`;
    expect(await burst(breaking, 9, many)).toEqual([...Array(8).fill(202), 429]);
    expect(await burst(plain, 5, many)).toEqual([202, 202, 202, 429, 429]);
    // The site's override of one scope leaves the others at the server's: per article still 3.
    expect(
      await burst(
        gateway,
        7,
        () => '203.0.113.9',
        (i) => `story-${i}`,
      ),
    ).toEqual(Array(7).fill(202));
    expect(await burst(gateway, 4, many, () => 'one-story')).toEqual([202, 202, 202, 429]);
    // The server's per-reader limit still holds on the other sites.
    expect(
      await burst(
        plain,
        5,
        () => '203.0.113.9',
        (i) => `story-${i}`,
      ),
    ).toEqual([202, 202, 202, 202, 429]);
  });
});

describe('client address', () => {
  it('walks X-Forwarded-For from the right only through trusted proxies', () => {
    const trusted = ['127.0.0.1', '10.0.0.0/8', '::1'];
    expect(clientIp('127.0.0.1', '198.51.100.7', trusted)).toBe('198.51.100.7');
    // A client-supplied first hop is ignored: the nearest untrusted hop wins.
    expect(clientIp('127.0.0.1', '6.6.6.6, 198.51.100.7, 10.1.2.3', trusted)).toBe('198.51.100.7');
    expect(clientIp('203.0.113.9', '198.51.100.7', trusted)).toBe('203.0.113.9');
    expect(clientIp('::ffff:127.0.0.1', '2001:db8::5', trusted)).toBe('2001:db8::5');
    expect(clientIp('127.0.0.1', 'not-an-ip', trusted)).toBe('127.0.0.1');
    expect(clientIp(undefined, '198.51.100.7', trusted)).toBeUndefined();
  });
});

describe('one Redis call per turn of the event loop', () => {
  const none = { points: 0, durationSeconds: 60 };
  const limiterOn = (t: TestContext, name: string, ipPoints: number) =>
    createRateLimiter(
      t.rt.redis,
      {
        submit_ip: { points: ipPoints, durationSeconds: 60 },
        submit_author: { points: 2, durationSeconds: 60 },
        submit_article: none,
        report_ip: none,
        report_comment: none,
      },
      `${t.rt.queues.prefix}:${name}`,
    );
  type Spied = Awaited<ReturnType<typeof spiedLimiter>>['calls'];
  /** A limiter on a test server's Redis client, with a spy on its script calls. */
  const spiedLimiter = async (name: string, ipPoints: number) => {
    const { t } = await listen({});
    await waitFor(async () => t.rt.redis.status === 'ready', 'redis ready');
    const rl = limiterOn(t, name, ipPoints);
    const client = t.rt.redis as unknown as { parleyRateCount: () => Promise<unknown> };
    return { rl, calls: vi.spyOn(client, 'parleyRateCount') };
  };
  const outcome = (p: Promise<void>) =>
    p.then(
      () => 'ok',
      (e: { status?: number }) => String(e.status),
    );

  it('sends the counters of concurrent requests as one script call, each counted in turn', async () => {
    const { rl, calls } = await spiedLimiter('rl-group', 6);
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          outcome(rl.consume({ submit_ip: 'ip-g', submit_author: i < 4 ? 'author-g' : undefined })),
        ),
      );
      expect(calls).toHaveBeenCalledTimes(1);
      // Six pass the address's limit; of those, the author's third and fourth (i = 2, 3) are over theirs.
      expect(outcomes).toEqual(['ok', 'ok', '429', '429', 'ok', 'ok', '429', '429', '429', '429']);
      // The next turn is a call of its own, and the counts carry on from the first.
      expect(await outcome(rl.consume({ submit_ip: 'ip-other' }))).toBe('ok');
      expect(await outcome(rl.consume({ submit_ip: 'ip-g' }))).toBe('429');
      expect(calls).toHaveBeenCalledTimes(3);
    } finally {
      calls.mockRestore();
    }
  });

  it('splits a crowd into calls of at most 200 requests without losing a count', async () => {
    const { rl, calls } = await spiedLimiter('rl-crowd', 300);
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 450 }, () => outcome(rl.consume({ submit_ip: 'ip-crowd' }))),
      );
      expect(calls).toHaveBeenCalledTimes(3);
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(300);
      expect(outcomes.slice(300).every((o) => o === '429')).toBe(true);
    } finally {
      calls.mockRestore();
    }
  });

  it.each([
    ['rejects', 'rl-fail', (calls: Spied) => calls.mockRejectedValueOnce(new Error('LOADING'))],
    [
      'throws',
      'rl-throw',
      (calls: Spied) =>
        calls.mockImplementationOnce(() => {
          throw new Error('Connection is closed.');
        }),
    ],
  ])('counts a whole group in memory when its call %s, and still limits', async (_how, name, fail) => {
    const { rl, calls } = await spiedLimiter(name, 3);
    fail(calls);
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, () => outcome(rl.consume({ submit_ip: 'ip-f' }))),
      );
      expect(calls).toHaveBeenCalledTimes(1);
      // The insurance limiter has the same shape: three pass, two are refused.
      expect(outcomes).toEqual(['ok', 'ok', 'ok', '429', '429']);
    } finally {
      calls.mockRestore();
    }
  });
});

describe('while Redis is away', () => {
  it('counts concurrent requests from one address and author exactly, in order', async () => {
    const { t } = await listen({});
    const none = { points: 0, durationSeconds: 60 };
    const rl = createRateLimiter(
      t.rt.redis,
      {
        submit_ip: { points: 15, durationSeconds: 60 },
        submit_author: { points: 4, durationSeconds: 60 },
        submit_article: none,
        report_ip: none,
        report_comment: none,
      },
      `${t.rt.queues.prefix}:rl-concurrent`,
    );
    // Twenty at once from one address, ten of them also by one author: all counted in order.
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        rl.consume({ submit_ip: 'ip-x', submit_author: i % 2 ? 'author-y' : undefined }).then(
          () => 'ok',
          (e: { status?: number }) => String(e.status),
        ),
      ),
    );
    // The first fifteen pass the IP limit, except the author's fifth to seventh (i = 9, 11, 13).
    const expected = outcomes.map((_, i) => (i < 15 && !(i % 2 && i >= 9) ? 'ok' : '429'));
    expect(outcomes).toEqual(expected);
  });

  it('keeps limiting in memory (insurance limiter)', async () => {
    const dead = await deadRedis();
    try {
      const none = { points: 0, durationSeconds: 60 };
      const rl = createRateLimiter(dead, {
        submit_ip: { points: 3, durationSeconds: 60 },
        submit_author: none,
        submit_article: none,
        report_ip: none,
        report_comment: none,
      });
      const outcomes: string[] = [];
      for (let i = 0; i < 5; i++) {
        outcomes.push(
          await rl.consume({ submit_ip: 'site:abc' }).then(
            () => 'ok',
            (e: { status?: number }) => String(e.status),
          ),
        );
      }
      expect(outcomes).toEqual(['ok', 'ok', 'ok', '429', '429']);
    } finally {
      dead.disconnect();
    }
  });

  it("counts a site's own limit in memory too, apart from the server's", async () => {
    const dead = await deadRedis();
    try {
      const none = { points: 0, durationSeconds: 60 };
      const rl = createRateLimiter(dead, {
        submit_ip: none,
        submit_author: none,
        submit_article: { points: 2, durationSeconds: 60 },
        report_ip: none,
        report_comment: none,
      });
      const run = (key: string, site?: { submit_article: { points: number; durationSeconds: number } }) =>
        rl.consume({ submit_article: key }, site).then(
          () => 'ok',
          (e: { status?: number }) => String(e.status),
        );
      const raised = { submit_article: { points: 4, durationSeconds: 60 } };
      const breaking: string[] = [];
      for (let i = 0; i < 5; i++) breaking.push(await run('site-a:hot', raised));
      expect(breaking).toEqual(['ok', 'ok', 'ok', 'ok', '429']);
      const plain: string[] = [];
      for (let i = 0; i < 3; i++) plain.push(await run('site-b:hot'));
      expect(plain).toEqual(['ok', 'ok', '429']);
    } finally {
      dead.disconnect();
    }
  });

  it('limits reader reports per reader and per comment through limitReport', async () => {
    const t = await createTestContext({
      env: { RATE_REPORT_PER_IP: '2/60', RATE_REPORT_PER_COMMENT: '3/60', READYZ_CANARY_TIMEOUT_MS: '0' },
    });
    open.push({ t, close: () => t.close() });
    await waitFor(async () => t.rt.redis.status === 'ready', 'redis ready');
    const run = (ipHash: string, commentId: string) =>
      limitReport(t.deps, { siteId: 's1', commentId, ipHash }).then(
        () => 'ok',
        (e: { status?: number }) => String(e.status),
      );
    expect([await run('h1', 'c1'), await run('h1', 'c2'), await run('h1', 'c3')]).toEqual([
      'ok',
      'ok',
      '429',
    ]);
    expect([
      await run('h2', 'c9'),
      await run('h3', 'c9'),
      await run('h4', 'c9'),
      await run('h5', 'c9'),
    ]).toEqual(['ok', 'ok', 'ok', '429']);
  });
});
