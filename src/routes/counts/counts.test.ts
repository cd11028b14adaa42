import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../../test/helpers/context';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

async function seed(siteId: string, external: string, published: number) {
  await t.rt.db
    .insertInto('articles')
    .values({
      id: crypto.randomUUID(),
      site_id: siteId,
      external_id: external,
      url: null,
      title: null,
      thread_version: 0,
      published_count: published,
    })
    .execute();
}

describe('GET /api/v1/sites/{siteId}/counts', () => {
  it('answers published counts for several articles, 0 for unknown ones, readable from any origin', async () => {
    const siteId = await t.site();
    const other = await t.site();
    await seed(siteId, 'a', 3);
    await seed(siteId, 'b/with slash', 1);
    await seed(other, 'c', 9);
    const res = await t.request(
      'GET',
      `/api/v1/sites/${siteId}/counts?article=a&article=${encodeURIComponent('b/with slash')}&article=c&article=a`,
      undefined,
      { origin: 'https://elsewhere.example' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    // Another site's article with the same id is not counted.
    expect(await res.json()).toEqual({ counts: { a: 3, 'b/with slash': 1, c: 0 } });
    const etag = res.headers.get('etag')!;
    const again = await t.request(
      'GET',
      `/api/v1/sites/${siteId}/counts?article=a&article=b%2Fwith%20slash&article=c`,
      undefined,
      {
        'if-none-match': etag,
      },
    );
    expect(again.status).toBe(304);
  });

  it('accepts a single article and refuses none, too many, or an unknown site', async () => {
    const siteId = await t.site();
    const one = await t.request('GET', `/api/v1/sites/${siteId}/counts?article=x`);
    expect(await one.json()).toEqual({ counts: { x: 0 } });
    const none = await t.request('GET', `/api/v1/sites/${siteId}/counts`);
    expect(none.status).toBe(422);
    expect(((await none.json()) as { code: string }).code).toBe('validation_failed');
    const many = Array.from({ length: 51 }, (_, i) => `article=a${i}`).join('&');
    expect((await t.request('GET', `/api/v1/sites/${siteId}/counts?${many}`)).status).toBe(422);
    const unknown = await t.request('GET', '/api/v1/sites/nope/counts?article=x');
    expect(unknown.status).toBe(404);
  });
});
