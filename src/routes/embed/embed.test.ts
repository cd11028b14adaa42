import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../test/helpers/context';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext({ env: { COMMENT_MAX_CHARS: '1234' } });
});
afterAll(async () => {
  await t?.close();
});

describe('GET /embed.js', () => {
  it('serves the minified widget gzip-compressed under 15 KB with a content-hash ETag', async () => {
    const res = await t.request('GET', '/embed.js', undefined, { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('vary')).toContain('Accept-Encoding');
    expect(res.headers.get('cache-control')).toContain('max-age=300');
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
    const gz = Buffer.from(await res.arrayBuffer());
    expect(gz.length).toBeLessThan(15 * 1024);
    const js = gunzipSync(gz).toString('utf8');
    expect(js.includes('Leave a Comment')).toBe(true);
    // The server's COMMENT_MAX_CHARS is baked in for the character counter.
    expect(js.includes('maxChars:1234')).toBe(true);
    expect(js.includes('__PARLEY_MAX_CHARS__')).toBe(false);
    // No innerHTML / outerHTML / insertAdjacentHTML / document.write anywhere in the bundle.
    expect(js.match(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/)).toBeNull();
  });

  it('answers a matching If-None-Match with 304 and serves identity or brotli on request', async () => {
    const first = await t.request('GET', '/embed.js');
    const etag = first.headers.get('etag')!;
    expect(first.headers.get('content-encoding')).toBeNull();
    const plain = await first.text();
    const again = await t.request('GET', '/embed.js', undefined, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    const br = await t.request('GET', '/embed.js', undefined, { 'accept-encoding': 'gzip, br' });
    expect(br.headers.get('content-encoding')).toBe('br');
    const { brotliDecompressSync } = await import('node:zlib');
    expect(brotliDecompressSync(Buffer.from(await br.arrayBuffer())).toString('utf8')).toBe(plain);
    const noGzip = await t.request('GET', '/embed.js', undefined, { 'accept-encoding': 'gzip;q=0' });
    expect(noGzip.headers.get('content-encoding')).toBeNull();
  });

  it('serves the versioned URL immutably and redirects an outdated hash', async () => {
    const etag = (await t.request('GET', '/embed.js')).headers.get('etag')!;
    const hash = etag.slice(1, -1);
    const v = await t.request('GET', `/embed.${hash}.js`);
    expect(v.status).toBe(200);
    expect(v.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const old = await t.request('GET', '/embed.0123456789abcdef.js');
    expect(old.status).toBe(302);
    expect(old.headers.get('location')).toBe('/embed.js');
  });

  it('serves the small count.js for article lists', async () => {
    const res = await t.request('GET', '/count.js', undefined, { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200);
    const size = (await res.arrayBuffer()).byteLength;
    expect(size).toBeLessThan(3 * 1024);
    const other = await t.request('GET', '/other.js');
    expect(other.status).toBe(404);
  });
});
