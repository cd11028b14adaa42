import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_ORIGIN, type TestContext } from '../test/helpers/context';

/** The body limit over real HTTP, where a declared Content-Length is checked without reading. */
describe('request body limit through @hono/node-server', () => {
  let t: TestContext;
  let server: ReturnType<typeof serve>;
  let port: number;
  beforeAll(async () => {
    t = await createTestContext();
    server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await t?.close();
  });

  function post(path: string, body: string, chunked: boolean): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { 'content-type': 'application/json', origin: TEST_ORIGIN };
      if (!chunked) headers['content-length'] = String(Buffer.byteLength(body));
      const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      // Chunked: written in pieces, so no length is declared.
      if (chunked) for (let i = 0; i < body.length; i += 65_536) req.write(body.slice(i, i + 65_536));
      else req.write(body);
      req.end();
    });
  }

  it('answers 413 for a declared or a streamed body over the limit, and accepts a normal one', async () => {
    const siteId = await t.site();
    const path = `/api/v1/sites/${siteId}/articles/limits/comments`;
    const big = JSON.stringify({ authorName: 'Big', body: 'a'.repeat(t.config.MAX_BODY_BYTES + 10) });
    for (const chunked of [false, true]) {
      const res = await post(path, big, chunked);
      expect(res.status, chunked ? 'chunked' : 'declared').toBe(413);
      expect((JSON.parse(res.body) as { code: string }).code).toBe('payload_too_large');
    }
    for (const chunked of [false, true]) {
      const ok = await post(path, JSON.stringify({ authorName: 'Ann', body: 'A fine comment.' }), chunked);
      expect(ok.status, chunked ? 'chunked' : 'declared').toBe(202);
    }
  });
});

describe('a known path under another method', () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers 405 with Allow, and an unknown path 404', async () => {
    const siteId = await t.site();
    const cases: Array<[string, string, number, string | null]> = [
      ['DELETE', `/api/v1/sites/${siteId}/articles/a/comments`, 405, 'GET, HEAD, POST'],
      ['PUT', '/healthz', 405, 'GET, HEAD'],
      ['DELETE', `/api/v1/sites/${siteId}/form-token`, 405, 'GET, HEAD'],
      ['GET', '/no/such/route', 404, null],
      ['DELETE', '/no/such/route', 404, null],
    ];
    for (const [method, path, status, allow] of cases) {
      const res = await t.app.request(path, { method, headers: { origin: TEST_ORIGIN } });
      expect(res.status, `${method} ${path}`).toBe(status);
      expect(res.headers.get('allow'), `${method} ${path}`).toBe(allow);
      const body = (await res.json()) as { code: string };
      expect(body.code).toBe(status === 405 ? 'method_not_allowed' : 'not_found');
    }
  });
});
