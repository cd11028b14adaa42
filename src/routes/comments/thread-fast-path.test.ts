import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../test/helpers/context';
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
});
