import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../test/helpers/context';
import { serveApp } from '../../entry';
import { bumpThreads } from '../../repositories/articles';
import { threadCacheFor } from '../../services/thread-cache';
import { plainThreadQuery } from './thread-fast-path';

describe('plainThreadQuery', () => {
  it('reads the query as the route schema would, or gives up', () => {
    const u = (q: string) => `http://x/api/v1/sites/s/articles/a/comments${q}`;
    expect(plainThreadQuery(u(''))).toEqual({ order: 'oldest', limit: 20 });
    expect(plainThreadQuery(u('?order=newest&limit=100'))).toEqual({ order: 'newest', limit: 100 });
    expect(plainThreadQuery(u('?limit=7&cursor=abc_-.~9'))).toEqual({
      order: 'oldest',
      limit: 7,
      cursor: 'abc_-.~9',
    });
    // Cache busters are ignored, as the schema strips unknown keys.
    expect(plainThreadQuery(u('?_=123&order=newest'))).toEqual({ order: 'newest', limit: 20 });
    for (const odd of [
      '?limit=0',
      '?limit=101',
      '?limit=020',
      '?limit=abc',
      '?order=sideways',
      '?order=newest&order=oldest',
      '?cursor=',
      '?cursor=a%2Fb',
      '?limit',
    ]) {
      expect(plainThreadQuery(u(odd)), odd).toBeNull();
    }
  });
});

describe('thread fast path through the app', () => {
  let c: TestContext;
  let peeks = 0;
  let hits = 0;
  beforeAll(async () => {
    c = await createTestContext({ env: { CACHE_TTL_MS: '5000', THREAD_CACHE_MS: '1000' } });
    // Count what the fast path finds in the cache (the handler itself never peeks).
    const cache = threadCacheFor(c.deps);
    const peek = cache.peek.bind(cache);
    cache.peek = (q) => {
      peeks++;
      const page = peek(q);
      if (page) hits++;
      return page;
    };
  });
  afterAll(async () => {
    await c?.close();
  });

  it('answers a cached page with the same body and headers as the full route, CORS and 304 included', async () => {
    const siteId = await c.site(undefined, ['https://news.example']);
    const path = `/api/v1/sites/${siteId}/articles/fast/comments?order=newest&limit=5`;
    // The article must exist to be cached: its first comment creates it.
    const posted = await c.submit(
      siteId,
      'fast',
      { authorName: 'Ann', body: 'First!' },
      { origin: 'https://news.example' },
    );
    expect(posted.status).toBe(202);

    const before = hits;
    const slow = await c.request('GET', path, undefined, { origin: 'https://news.example' });
    expect(slow.status).toBe(200);
    expect(hits).toBe(before);
    const fast = await c.request('GET', path, undefined, { origin: 'https://news.example' });
    expect(fast.status).toBe(200);
    expect(hits).toBe(before + 1);
    expect(await fast.text()).toBe(await slow.text());
    for (const h of [
      'etag',
      'cache-control',
      'vary',
      'content-type',
      'access-control-allow-origin',
      'access-control-expose-headers',
    ]) {
      expect(fast.headers.get(h), h).toBe(slow.headers.get(h));
    }
    expect(fast.headers.get('access-control-allow-origin')).toBe('https://news.example');
    expect(fast.headers.get('vary')).toContain('Origin');
    expect(fast.headers.get('x-request-id')).toBeTruthy();
    expect(
      (await c.request('GET', path, undefined, { 'x-request-id': 'trace-123' })).headers.get('x-request-id'),
    ).toBe('trace-123');
    // An id Hono's requestId middleware would refuse (too long, other characters) is replaced.
    const hitsBeforeIds = hits;
    for (const refused of ['x'.repeat(65), 'has space', 'semi;colon']) {
      const res = await c.request('GET', path, undefined, { 'x-request-id': refused });
      expect(res.headers.get('x-request-id'), refused).not.toBe(refused);
      expect(res.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/);
    }
    expect(hits).toBe(hitsBeforeIds + 3);

    // Reads are public: another origin reads as `*`; no origin, no CORS headers.
    const other = await c.request('GET', path, undefined, { origin: 'https://elsewhere.example' });
    expect(other.headers.get('access-control-allow-origin')).toBe('*');
    const none = await c.request('GET', path);
    expect(none.headers.get('access-control-allow-origin')).toBeNull();
    expect(none.headers.get('vary')).toContain('Origin');

    const etag = fast.headers.get('etag')!;
    const hitsBefore304 = hits;
    const notModified = await c.request('GET', path, undefined, { 'if-none-match': `W/"other", ${etag}` });
    expect(notModified.status).toBe(304);
    expect(hits).toBe(hitsBefore304 + 1);
    expect(notModified.headers.get('etag')).toBe(etag);
    expect(await notModified.text()).toBe('');
    const changed = await c.request('GET', path, undefined, { 'if-none-match': 'W/"other"' });
    expect(changed.status).toBe(200);

    // The full route compares the same way (with nothing to peek at, every read goes to it).
    const cache = threadCacheFor(c.deps);
    const peek = cache.peek;
    cache.peek = () => undefined;
    try {
      const viaRoute = await c.request('GET', path, undefined, { 'if-none-match': `W/"other", ${etag}` });
      expect(viaRoute.status).toBe(304);
      expect(viaRoute.headers.get('etag')).toBe(etag);
      expect((await c.request('GET', path, undefined, { 'if-none-match': 'W/"other"' })).status).toBe(200);
    } finally {
      cache.peek = peek;
    }
  });

  it('leaves unknown sites, odd queries and uncached pages to the full route', async () => {
    const siteId = await c.site();
    const before = { peeks, hits };
    expect((await c.request('GET', '/api/v1/sites/nosuchsite/articles/a/comments')).status).toBe(404);
    const bad = await c.request('GET', `/api/v1/sites/${siteId}/articles/a/comments?limit=abc`);
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as { code: string }).code).toBe('validation_failed');
    // A missing article is never cached, so it always goes the full way.
    const missing = await c.request('GET', `/api/v1/sites/${siteId}/articles/never/comments`);
    expect(missing.status).toBe(200);
    expect(hits).toBe(before.hits);
    expect(peeks).toBeGreaterThan(before.peeks);
  });

  it('leaves a dot segment to the router, which reads it as part of the path', async () => {
    const siteId = await c.site();
    await c.deps.sites.get(siteId);
    const cache = threadCacheFor(c.deps);
    const peek = cache.peek;
    cache.peek = () => ({ etag: 'W/"x"', body: '{}' }) as ReturnType<typeof peek>;
    try {
      const plan = (article: string) =>
        c.app.fastThread.plan('GET', `/api/v1/sites/${siteId}/articles/${article}/comments`, () => undefined);
      expect(plan('a.b')?.status).toBe(200);
      expect(plan('..')).toBeUndefined();
      expect(plan('.')).toBeUndefined();
    } finally {
      cache.peek = peek;
    }
  });

  it('answers the same over real HTTP on node:http as the full route and the fetch fast path', async () => {
    const server = serveApp(c.app, 0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    try {
      const siteId = await c.site(undefined, ['https://news.example']);
      const path = `/api/v1/sites/${siteId}/articles/wire/comments?order=newest&limit=5`;
      expect((await c.submit(siteId, 'wire', { authorName: 'Ann', body: 'On the wire' })).status).toBe(202);
      // node:http, not fetch: fetch would not send the Host header the test sets.
      const port = (server.address() as AddressInfo).port;
      const get = (headers: Record<string, string> = {}) =>
        new Promise<{ status: number; headers: IncomingHttpHeaders; body: string }>((resolve, reject) => {
          httpGet({ host: '127.0.0.1', port, path, headers }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => {
              body += d;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
          }).on('error', reject);
        });
      // Everything but the per-response headers: a difference in any other header fails.
      const comparable = (res: { headers: IncomingHttpHeaders }) => {
        const { date, 'x-request-id': id, ...rest } = res.headers;
        expect(date).toBeTruthy();
        expect(id).toMatch(/^[\w-]{8,}$/);
        return rest;
      };

      const before = hits;
      const full = await get({ origin: 'https://news.example' });
      expect(hits).toBe(before);
      const onNode = await get({ origin: 'https://news.example' });
      expect(hits).toBe(before + 1);
      expect(onNode.status).toBe(200);
      expect(onNode.body).toBe(full.body);
      expect(comparable(onNode)).toEqual(comparable(full));
      expect(onNode.headers['content-length']).toBe(String(Buffer.byteLength(full.body)));

      // A Host the adapter must parse goes past node:http to the fetch fast path; the two must
      // agree for every kind of answer.
      const etag = onNode.headers.etag!;
      const variants: Record<string, string>[] = [
        {},
        { origin: 'https://elsewhere.example' },
        { 'if-none-match': `W/"other", ${etag}` },
        { 'if-none-match': etag },
        { 'x-request-id': 'trace-wire-1' },
      ];
      for (const headers of variants) {
        const a = await get(headers);
        const b = await get({ ...headers, host: 'LOCALHOST' });
        expect(a.status, JSON.stringify(headers)).toBe(b.status);
        expect(a.body).toBe(b.body);
        expect(comparable(a)).toEqual(comparable(b));
        if ('x-request-id' in headers) expect(a.headers['x-request-id']).toBe('trace-wire-1');
      }
      expect((await get({ 'if-none-match': etag })).status).toBe(304);
      expect(hits).toBe(before + 12);
      // A Host the adapter cannot read as a URL's is refused, not answered from the cache.
      expect((await get({ host: 'bad host' })).status).toBe(400);
      expect(hits).toBe(before + 12);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
  it('sends the compressed form a client accepts, the same on every front', async () => {
    const server = serveApp(c.app, 0, '127.0.0.1');
    await new Promise<void>((r) => server.once('listening', () => r()));
    try {
      const siteId = await c.site(undefined, ['https://news.example']);
      const path = `/api/v1/sites/${siteId}/articles/zipped/comments`;
      // A page well over COMPRESS_MIN_BYTES, published as the worker would.
      const text = 'Long and considered — with a little UTF-8: Grüße, 第一. '.repeat(40);
      const posted = await c.submit(siteId, 'zipped', { authorName: 'Ann', body: text });
      const { id } = (await posted.json()) as { id: string };
      const row = await c.rt.db
        .updateTable('comments')
        .set({ status: 'published', decided_at: new Date() })
        .where('id', '=', id)
        .returning('article_id')
        .executeTakeFirstOrThrow();
      await bumpThreads(c.rt.db, new Map([[row.article_id, 1]]));

      const port = (server.address() as AddressInfo).port;
      const get = (headers: Record<string, string> = {}) =>
        new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
          httpGet({ host: '127.0.0.1', port, path, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (d: Buffer) => chunks.push(d));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
          }).on('error', reject);
        });
      const comparable = (res: { headers: IncomingHttpHeaders }) => {
        const { date, 'x-request-id': _id, ...rest } = res.headers;
        return rest;
      };
      const decoded = (res: { headers: IncomingHttpHeaders; body: Buffer }) => {
        const coding = res.headers['content-encoding'];
        const raw =
          coding === 'br'
            ? brotliDecompressSync(res.body)
            : coding === 'gzip'
              ? gunzipSync(res.body)
              : res.body;
        return raw.toString('utf8');
      };

      // The full route renders and caches the page; the fast paths answer from the cache after it.
      const plain = await get();
      expect(plain.status).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.headers.vary).toBe('Origin, Accept-Encoding');
      expect(plain.body.toString('utf8')).toContain('Grüße, 第一');
      const identity = plain.body.toString('utf8');

      const want: [Record<string, string>, string | undefined][] = [
        [{ 'accept-encoding': 'gzip, deflate, br' }, 'br'],
        [{ 'accept-encoding': 'gzip, deflate' }, 'gzip'],
        [{ 'accept-encoding': 'br;q=0.5, gzip' }, 'gzip'],
        [{ 'accept-encoding': 'gzip;q=0, br;q=0' }, undefined],
        [{ 'accept-encoding': 'identity' }, undefined],
        [{ 'accept-encoding': 'gzip, br', origin: 'https://news.example' }, 'br'],
      ];
      const before = hits;
      for (const [headers, coding] of want) {
        const onNode = await get(headers);
        // A Host the adapter must parse goes past node:http to the fetch fast path.
        const onFetch = await get({ ...headers, host: 'LOCALHOST' });
        for (const res of [onNode, onFetch]) {
          expect(res.status, JSON.stringify(headers)).toBe(200);
          expect(res.headers['content-encoding'], JSON.stringify(headers)).toBe(coding);
          expect(res.headers['content-length']).toBe(String(res.body.length));
          expect(decoded(res)).toBe(identity);
        }
        expect(comparable(onFetch)).toEqual(comparable(onNode));
        expect(onFetch.body.equals(onNode.body)).toBe(true);
        if (coding) expect(onNode.body.length).toBeLessThan(Buffer.byteLength(identity) / 2);
      }
      expect(hits).toBe(before + want.length * 2);

      // The full route picks the same form: a query value that needs decoding is left to it.
      const slow = await c.request('GET', `${path}?order=%6Fldest`, undefined, {
        'accept-encoding': 'gzip, deflate, br',
      });
      expect(slow.status).toBe(200);
      expect(slow.headers.get('content-encoding')).toBe('br');
      expect(slow.headers.get('vary')).toBe('Origin, Accept-Encoding');
      expect(brotliDecompressSync(Buffer.from(await slow.arrayBuffer())).toString('utf8')).toBe(identity);

      // A 304 names the same Vary, whatever the coding asked for.
      const etag = plain.headers.etag!;
      const notModified = await get({ 'if-none-match': etag, 'accept-encoding': 'br' });
      expect(notModified.status).toBe(304);
      expect(notModified.headers.vary).toBe('Origin, Accept-Encoding');
      expect(notModified.headers['content-encoding']).toBeUndefined();
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
