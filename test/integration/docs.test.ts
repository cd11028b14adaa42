import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

describe('API documentation', () => {
  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const res = await t.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { responses: object }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    const submit = doc.paths['/api/v1/sites/{siteId}/articles/{articleId}/comments']?.post;
    expect(Object.keys(submit?.responses ?? {})).toEqual(
      expect.arrayContaining(['202', '400', '413', '415', '422']),
    );
  });

  it('documents patterns that accept the documented examples', async () => {
    // A client that validates with the published pattern must accept what the API accepts.
    const doc = (await (await t.request('GET', '/openapi.json')).json()) as {
      paths: Record<
        string,
        Record<string, { parameters?: Array<{ name: string; schema: Record<string, unknown> }> }>
      >;
    };
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const op of Object.values(item)) {
        for (const p of op.parameters ?? []) {
          const { pattern, example } = p.schema as { pattern?: string; example?: unknown };
          if (typeof pattern !== 'string' || typeof example !== 'string') continue;
          expect(new RegExp(pattern).test(example), `${path} ${p.name}: ${pattern} vs ${example}`).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(10);
  });

  it('renders its reference page from local assets only, so it works offline', async () => {
    const page = await (await t.request('GET', '/docs')).text();
    const urls = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(urls.length).toBeGreaterThan(1);
    for (const url of urls) {
      expect(url.startsWith('/')).toBe(true);
      const asset = await t.request('GET', url);
      expect(asset.status, url).toBe(200);
    }
  });

  it("links an icon that loads from Parley's own pages, so browsers do not log a 404 for /favicon.ico", async () => {
    const icon = await t.request('GET', '/favicon.svg');
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(await icon.text()).toMatch(/^<svg /);
    for (const path of ['/', '/moderation', '/docs']) {
      const page = await (await t.request('GET', path)).text();
      expect(page, path).toMatch(/<link rel="icon" href="\/favicon\.svg" type="image\/svg\+xml"/);
    }
  });
});
