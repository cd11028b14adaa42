import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { type KyselyPlugin, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../test/helpers/context';
import { uuidv7 } from '../lib/ids';
import { bumpThreads, setArticleClosed } from '../repositories/articles';
import { createThreadCache, type ThreadQueryKey } from './thread-cache';

let t: TestContext;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

/** Counts the queries the cache sends, so a test can tell a cache hit from a load. */
function counted() {
  let queries = 0;
  const plugin: KyselyPlugin = {
    transformQuery: (args) => {
      queries++;
      return args.node;
    },
    transformResult: async (args) => args.result,
  };
  return { db: t.rt.db.withPlugin(plugin), queries: () => queries };
}

async function article(siteId: string, externalId: string) {
  const id = uuidv7();
  await t.rt.db
    .insertInto('articles')
    .values({ id, site_id: siteId, external_id: externalId, url: null, title: 'T', thread_version: 0 })
    .execute();
  return id;
}

/** Publishes a comment the way the worker does: status and thread version in one transaction. */
async function publish(siteId: string, articleId: string, body: string) {
  const id = uuidv7();
  await t.rt.db.transaction().execute(async (trx) => {
    const now = new Date();
    await trx
      .insertInto('comments')
      .values({
        id,
        site_id: siteId,
        article_id: articleId,
        parent_id: null,
        root_id: null,
        author_name: 'Ada',
        author_email: null,
        email_hash: null,
        body,
        status: 'published',
        ip_hash: null,
        user_agent: null,
        referrer: null,
        signals: '{}',
        idempotency_key: null,
        request_id: null,
        created_at: now,
        updated_at: now,
        decided_at: now,
      })
      .execute();
    await bumpThreads(trx, new Map([[articleId, 1]]));
  });
  return id;
}

const query = (siteId: string, articleId: string): ThreadQueryKey => ({
  siteId,
  articleId,
  order: 'newest',
  limit: 20,
  decodedCursor: null,
});

describe('thread page cache', () => {
  it('serves a page from memory until freshMs, then shows what was published meanwhile', async () => {
    const siteId = await t.site();
    const artId = await article(siteId, 'cached-1');
    await publish(siteId, artId, 'first');
    let clock = 1_000_000;
    const { db, queries } = counted();
    const cache = createThreadCache(db, { freshMs: 250, maxAgeMs: 5000, now: () => clock });

    const a = await cache.get(query(siteId, 'cached-1'));
    expect(JSON.parse(a.body).comments).toHaveLength(1);
    const loads = queries();
    expect(loads).toBeGreaterThan(0);

    const second = await publish(siteId, artId, 'second');
    clock += 249;
    const b = await cache.get(query(siteId, 'cached-1'));
    expect(queries()).toBe(loads); // served from memory
    expect(b).toBe(a);

    clock += 1;
    const c = await cache.get(query(siteId, 'cached-1'));
    const ids = (JSON.parse(c.body).comments as Array<{ id: string }>).map((x) => x.id);
    expect(ids[0]).toBe(second);
    expect(c.etag).not.toBe(a.etag);
  });

  it('keeps pages of different orders and limits apart, and tells a closed article by its ETag', async () => {
    const siteId = await t.site();
    const artId = await article(siteId, 'cached-apart');
    const first = await publish(siteId, artId, 'first');
    const second = await publish(siteId, artId, 'second');
    let clock = 2_000_000;
    const cache = createThreadCache(t.rt.db, { freshMs: 250, maxAgeMs: 5000, now: () => clock });
    const ids = async (q: Partial<ThreadQueryKey>) =>
      (
        JSON.parse((await cache.get({ ...query(siteId, 'cached-apart'), ...q })).body).comments as Array<{
          id: string;
        }>
      ).map((c) => c.id);
    expect(await ids({ order: 'newest' })).toEqual([second, first]);
    expect(await ids({ order: 'oldest' })).toEqual([first, second]);
    expect(await ids({ order: 'newest', limit: 1 })).toEqual([second]);

    // Closing changes no comment (the version stays), but the page says closed and so must its ETag.
    const open = await cache.get(query(siteId, 'cached-apart'));
    await setArticleClosed(t.rt.db, siteId, 'cached-apart', true);
    clock += 250;
    const closed = await cache.get(query(siteId, 'cached-apart'));
    expect(JSON.parse(closed.body).article.closed).toBe(true);
    expect(closed.etag).not.toBe(open.etag);
  });

  it('revalidates an unchanged page with one article query and reuses the rendered body', async () => {
    const siteId = await t.site();
    const artId = await article(siteId, 'cached-2');
    await publish(siteId, artId, 'only');
    let clock = 5_000_000;
    const { db, queries } = counted();
    const cache = createThreadCache(db, { freshMs: 100, maxAgeMs: 1000, now: () => clock });
    const a = await cache.get(query(siteId, 'cached-2'));
    const before = queries();
    clock += 150;
    const b = await cache.get(query(siteId, 'cached-2'));
    expect(b).toBe(a);
    expect(queries() - before).toBe(1);
    // Past maxAgeMs the page is rebuilt even though the version has not moved.
    clock += 1000;
    const c = await cache.get(query(siteId, 'cached-2'));
    expect(c).not.toBe(a);
    expect(c.body).toBe(a.body);
  });

  it('shares one load among concurrent readers of a cold page', async () => {
    const siteId = await t.site();
    const artId = await article(siteId, 'cached-3');
    await publish(siteId, artId, 'x');
    const single = counted();
    await createThreadCache(single.db, { freshMs: 250, maxAgeMs: 5000 }).get(query(siteId, 'cached-3'));
    const many = counted();
    const cache = createThreadCache(many.db, { freshMs: 250, maxAgeMs: 5000 });
    const pages = await Promise.all(Array.from({ length: 20 }, () => cache.get(query(siteId, 'cached-3'))));
    expect(new Set(pages.map((p) => p.body)).size).toBe(1);
    expect(many.queries()).toBe(single.queries());
  });

  it('caches nothing when freshMs is 0, and never caches a missing article', async () => {
    const siteId = await t.site();
    const { db, queries } = counted();
    const cache = createThreadCache(db, { freshMs: 250, maxAgeMs: 5000 });
    const empty = await cache.get(query(siteId, 'not-yet'));
    expect(JSON.parse(empty.body).comments).toEqual([]);
    expect(empty.etag).toBe('');
    const n = queries();
    await cache.get(query(siteId, 'not-yet'));
    expect(queries()).toBeGreaterThan(n);

    const artId = await article(siteId, 'uncached');
    const off = createThreadCache(db, { freshMs: 0, maxAgeMs: 0 });
    await off.get(query(siteId, 'uncached'));
    const id = await publish(siteId, artId, 'visible at once');
    expect((await off.get(query(siteId, 'uncached'))).body).toContain(id);
  });
});

describe('thread page compression', () => {
  it('compresses a page of a kilobyte or more once, with its body, and counts it in the memory bound', async () => {
    const siteId = await t.site();
    await publish(siteId, await article(siteId, 'big'), 'A long comment. '.repeat(100));
    await publish(siteId, await article(siteId, 'small'), 'Short.');
    const cache = createThreadCache(t.rt.db, { freshMs: 10_000, maxAgeMs: 60_000 });
    const big = await cache.get(query(siteId, 'big'));
    expect(gunzipSync(big.compressed!.gzip).toString('utf8')).toBe(big.body);
    expect(brotliDecompressSync(big.compressed!.br).toString('utf8')).toBe(big.body);
    expect(cache.size().chars).toBe(
      big.body.length + big.compressed!.gzip.length + big.compressed!.br.length,
    );
    // Served from memory: the same forms, not made again.
    expect((await cache.get(query(siteId, 'big'))).compressed).toBe(big.compressed);
    const small = await cache.get(query(siteId, 'small'));
    expect(small.compressed).toBeUndefined();
  });
});

describe('thread page cache memory bound', () => {
  it('evicts the oldest pages to stay within maxChars and maxEntries', async () => {
    const siteId = await t.site();
    for (const name of ['m1', 'm2', 'm3'])
      await publish(siteId, await article(siteId, name), `body of ${name}`);
    const probe = createThreadCache(t.rt.db, { freshMs: 10_000, maxAgeMs: 60_000 });
    const one = (await probe.get(query(siteId, 'm1'))).body.length;

    const { db, queries } = counted();
    // Room for two pages of this size, not three.
    const cache = createThreadCache(db, { freshMs: 10_000, maxAgeMs: 60_000, maxChars: one * 2 + 10 });
    await cache.get(query(siteId, 'm1'));
    await cache.get(query(siteId, 'm2'));
    await cache.get(query(siteId, 'm3'));
    expect(cache.size().entries).toBe(2);
    expect(cache.size().chars).toBeLessThanOrEqual(one * 2 + 10);
    const before = queries();
    await cache.get(query(siteId, 'm3'));
    expect(queries()).toBe(before); // still cached
    await cache.get(query(siteId, 'm1'));
    expect(queries()).toBeGreaterThan(before); // evicted, loaded again

    const few = createThreadCache(t.rt.db, { freshMs: 10_000, maxAgeMs: 60_000, maxEntries: 1 });
    await few.get(query(siteId, 'm1'));
    await few.get(query(siteId, 'm2'));
    expect(few.size().entries).toBe(1);
  });
});

describe('GET thread through the app with the cache on', () => {
  let c: TestContext;
  beforeAll(async () => {
    c = await createTestContext({ env: { CACHE_TTL_MS: '5000', THREAD_CACHE_MS: '200' } });
  });
  afterAll(async () => {
    await c?.close();
  });

  it('shows a newly published comment within THREAD_CACHE_MS and keeps answering 304 to a matching ETag', async () => {
    const siteId = await c.site();
    const path = `/api/v1/sites/${siteId}/articles/live/comments?order=newest`;
    const first = await c.request('GET', path);
    expect(first.status).toBe(200);
    const artId = (
      await c.rt.db
        .insertInto('articles')
        .values({
          id: uuidv7(),
          site_id: siteId,
          external_id: 'live',
          url: null,
          title: null,
          thread_version: 0,
        })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    const id = await publish(siteId, artId, 'breaking');
    const committed = Date.now();
    let seenAfter = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 100; i++) {
      const res = await c.request('GET', path);
      if ((await res.text()).includes(id)) {
        seenAfter = Date.now() - committed;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(seenAfter).toBeLessThan(1000);

    const page = await c.request('GET', path);
    const etag = page.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(page.headers.get('content-type')).toContain('application/json');
    const again = await c.request('GET', path, undefined, { 'if-none-match': etag! });
    expect(again.status).toBe(304);
  });
});

describe('DATABASE_READ_URL', () => {
  let c: TestContext;
  const appName = `parley_read_${process.pid}`;
  beforeAll(async () => {
    const primary = new URL(t.config.DATABASE_URL);
    primary.searchParams.set('application_name', appName);
    c = await createTestContext({ env: { DATABASE_READ_URL: primary.toString() } });
  });
  afterAll(async () => {
    await c?.close();
  });

  it('sends public thread reads to the read pool and writes to the primary', async () => {
    const siteId = await c.site();
    const res = await c.request('GET', `/api/v1/sites/${siteId}/articles/replica/comments`);
    expect(res.status).toBe(200);
    const r = await c.rt.db
      .selectFrom(sql<{ application_name: string }>`pg_stat_activity`.as('a'))
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('application_name', '=', appName)
      .executeTakeFirstOrThrow();
    expect(Number(r.n)).toBeGreaterThan(0);
    expect(c.rt.readDb).toBeDefined();
    expect(c.rt.readDb).not.toBe(c.rt.db);
  });
});
