import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, TEST_ORIGIN, type TestContext } from '../helpers/context';

let t: TestContext;
let siteId: string;

beforeAll(async () => {
  t = await createTestContext();
  siteId = await t.site();
});
afterAll(async () => {
  await t?.close();
});

const path = () => `/api/v1/sites/${siteId}/articles/bad-input/comments`;
const valid = { authorName: 'Ada', body: 'A perfectly fine comment.' };

async function rowCount() {
  const r = await t.rt.db
    .selectFrom('comments')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('site_id', '=', siteId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

async function send(body: BodyInit | undefined, headers: Record<string, string>, p = path()) {
  const res = await t.app.request(p, { method: 'POST', body, headers: { origin: TEST_ORIGIN, ...headers } });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    json: text ? (JSON.parse(text) as { code?: string; errors?: Array<{ path: string }> }) : {},
  };
}

describe('bad input gets a clear 4xx problem and stores nothing', () => {
  const json = { 'content-type': 'application/json' };
  const cases: Array<
    [
      string,
      () => Promise<{
        status: number;
        type: string;
        json: { code?: string; errors?: Array<{ path: string }> };
      }>,
      number,
      string,
    ]
  > = [
    ['malformed JSON', () => send('{"authorName": "Ada", ', json), 400, 'invalid_json'],
    ['a JSON array', () => send('[1,2]', json), 400, 'invalid_json'],
    [
      'wrong content type',
      () => send(JSON.stringify(valid), { 'content-type': 'text/plain' }),
      415,
      'unsupported_media_type',
    ],
    [
      'a form post',
      () => send('authorName=Ada&body=hi', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'unsupported_media_type',
    ],
    ['no content type', () => send(JSON.stringify(valid), {}), 415, 'unsupported_media_type'],
    [
      'a charset other than UTF-8',
      () => send(JSON.stringify(valid), { 'content-type': 'application/json; charset=utf-16' }),
      415,
      'unsupported_media_type',
    ],
    [
      'a JSON type with a malformed parameter list',
      () => send(JSON.stringify(valid), { 'content-type': 'application/json; charset' }),
      415,
      'unsupported_media_type',
    ],
    [
      'a JSON type with a parameter that is not token=value',
      () => send(JSON.stringify(valid), { 'content-type': 'application/json; a b=c' }),
      415,
      'unsupported_media_type',
    ],
    [
      'a Content-Encoding nothing decodes',
      () => send(JSON.stringify(valid), { ...json, 'content-encoding': 'gzip' }),
      415,
      'unsupported_media_type',
    ],
    ['missing body field', () => send(JSON.stringify({ authorName: 'Ada' }), json), 422, 'validation_failed'],
    [
      'blank name',
      () => send(JSON.stringify({ ...valid, authorName: '   ' }), json),
      422,
      'validation_failed',
    ],
    [
      'oversized body field',
      () => send(JSON.stringify({ ...valid, body: 'x'.repeat(5001) }), json),
      422,
      'validation_failed',
    ],
    [
      'oversized name',
      () => send(JSON.stringify({ ...valid, authorName: 'n'.repeat(81) }), json),
      422,
      'validation_failed',
    ],
    [
      'wrong types',
      () => send(JSON.stringify({ authorName: 42, body: { a: 1 } }), json),
      422,
      'validation_failed',
    ],
    [
      'bad email',
      () => send(JSON.stringify({ ...valid, authorEmail: 'not-an-email' }), json),
      422,
      'validation_failed',
    ],
    [
      'javascript: article URL',
      () => send(JSON.stringify({ ...valid, articleUrl: 'javascript:alert(1)' }), json),
      422,
      'validation_failed',
    ],
    [
      'NUL in the article URL',
      () => send(JSON.stringify({ ...valid, articleUrl: 'https://news.example/a\u0000b' }), json),
      422,
      'validation_failed',
    ],
    [
      'NUL in the body',
      () => send(JSON.stringify({ ...valid, body: 'hi\u0000there' }), json),
      422,
      'validation_failed',
    ],
    [
      'control characters in the name',
      () => send(JSON.stringify({ ...valid, authorName: 'A\u0007da' }), json),
      422,
      'validation_failed',
    ],
    [
      'a name over two lines',
      () => send(JSON.stringify({ ...valid, authorName: 'Ada\nLovelace' }), json),
      422,
      'validation_failed',
    ],
    [
      'a lone surrogate',
      () => send(JSON.stringify({ ...valid, body: 'bad \ud800 text' }), json),
      422,
      'validation_failed',
    ],
    [
      'invalid UTF-8',
      () => send(new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), json),
      400,
      'invalid_json',
    ],
    [
      'a parent that is not a uuid',
      () => send(JSON.stringify({ ...valid, parentId: '1 or 1=1' }), json),
      422,
      'validation_failed',
    ],
    [
      'a parent that does not exist',
      () => send(JSON.stringify({ ...valid, parentId: '01900000-0000-7000-8000-000000000000' }), json),
      422,
      'invalid_parent',
    ],
    [
      'a 10 MB body',
      () => send(`{"body":"${'a'.repeat(10 * 1024 * 1024)}"}`, json),
      413,
      'payload_too_large',
    ],
    [
      'an unknown site',
      () => send(JSON.stringify(valid), json, '/api/v1/sites/site_nope/articles/a/comments'),
      404,
      'not_found',
    ],
    [
      'a bad idempotency key',
      () => send(JSON.stringify(valid), { ...json, 'idempotency-key': 'x' }),
      422,
      'validation_failed',
    ],
    [
      'an origin not on the list',
      () => send(JSON.stringify(valid), { ...json, origin: 'https://evil.example' }),
      403,
      'origin_not_allowed',
    ],
  ];

  for (const [name, call, status, code] of cases) {
    it(`${name} → ${status} ${code}`, async () => {
      const before = await rowCount();
      const res = await call();
      expect(res.status).toBe(status);
      expect(res.type).toContain('application/problem+json');
      expect(res.json.code).toBe(code);
      expect(await rowCount()).toBe(before);
    });
  }

  it('accepts JSON declared as UTF-8, in any spelling, and with no encoding or identity', async () => {
    const before = await rowCount();
    const spellings: Record<string, string>[] = [
      { 'content-type': 'application/json; charset=utf-8' },
      { 'content-type': 'application/json;charset="UTF-8"' },
      { 'content-type': 'application/json', 'content-encoding': 'identity' },
      // RFC 9110 allows whitespace around the parameter's semicolon, and type names in any case.
      { 'content-type': 'application/json ; charset=utf-8' },
      { 'content-type': 'Application/JSON' },
      // An empty parameter is allowed too (RFC 9110 section 8.3.1: `*( OWS ";" OWS [ parameter ] )`).
      { 'content-type': 'application/json;;' },
    ];
    for (const [i, headers] of spellings.entries()) {
      const res = await send(JSON.stringify({ ...valid, body: `Fine comment in spelling ${i}.` }), headers);
      expect(res.status, JSON.stringify(headers)).toBe(202);
    }
    expect(await rowCount()).toBe(before + spellings.length);
  });

  it("cannot fail other readers' comments submitted at the same moment", async () => {
    // Concurrent submissions share one statement: a value Postgres refuses (a NUL in a URL) failed
    // all of them with 500. It must be refused on its own, before it reaches the batch.
    const before = await rowCount();
    const [good1, bad, good2] = await Promise.all([
      send(
        JSON.stringify({ ...valid, body: 'Beside a bad one, 1.' }),
        json,
        path().replace('bad-input', 'batch-1'),
      ),
      send(
        JSON.stringify({ ...valid, articleUrl: 'https://news.example/\u0000' }),
        json,
        path().replace('bad-input', 'batch-2'),
      ),
      send(
        JSON.stringify({ ...valid, body: 'Beside a bad one, 2.' }),
        json,
        path().replace('bad-input', 'batch-3'),
      ),
    ]);
    expect([good1!.status, bad!.status, good2!.status]).toEqual([202, 422, 202]);
    expect(await rowCount()).toBe(before + 2);
  });

  it('refuses a thread cursor this API never wrote with 422, not 500', async () => {
    await t.submit(siteId, 'cursor-article', { ...valid, body: 'One to page over.' });
    await t.rt.db
      .updateTable('comments')
      .set({ status: 'published' })
      .where('site_id', '=', siteId)
      .execute();
    const thread = `/api/v1/sites/${siteId}/articles/cursor-article/comments`;
    const uuid = '01900000-0000-7000-8000-000000000000';
    for (const raw of [`2026-01-01T00:00:00.000Z|${'-'.repeat(36)}`, `-271821-04-20T00:00:00.000Z|${uuid}`]) {
      const res = await t.app.request(`${thread}?cursor=${Buffer.from(raw).toString('base64url')}`);
      expect(res.status, raw).toBe(422);
    }
  });

  it('refuses a thread page of more than 100 comments with 422, naming the field', async () => {
    const thread = `/api/v1/sites/${siteId}/articles/limit-article/comments`;
    expect((await t.app.request(`${thread}?limit=100`)).status).toBe(200);
    for (const limit of ['101', '1000', '0']) {
      const res = await t.app.request(`${thread}?limit=${limit}`);
      expect(res.status, limit).toBe(422);
      const problem = (await res.json()) as { code: string; errors: Array<{ path: string }> };
      expect(problem.code).toBe('validation_failed');
      expect(problem.errors.map((e) => e.path)).toEqual(['limit']);
    }
  });

  it('names the offending fields', async () => {
    const res = await send(JSON.stringify({ authorName: '', body: '', authorEmail: 'nope' }), json);
    expect(res.json.errors?.map((e) => e.path).sort()).toEqual(['authorEmail', 'authorName', 'body']);
  });

  it('answers a preflight from an allowed origin and refuses one from another', async () => {
    const ok = await t.app.request(path(), {
      method: 'OPTIONS',
      headers: {
        origin: TEST_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(TEST_ORIGIN);
    expect(ok.headers.get('vary')).toContain('Origin');
    const bad = await t.app.request(path(), {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(bad.status).toBe(403);
    expect(bad.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('generated garbage never causes a 5xx or a stray row', () => {
  it('survives arbitrary JSON values and strings on the submit endpoint', async () => {
    const before = await rowCount();
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string({ unit: 'binary', maxLength: 300 }),
          fc
            .record({
              authorName: fc.oneof(
                fc.string({ unit: 'binary', maxLength: 100 }),
                fc.integer(),
                fc.constant(null),
              ),
              body: fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), fc.array(fc.string())),
              parentId: fc.option(fc.oneof(fc.uuid(), fc.string())),
              authorEmail: fc.option(fc.oneof(fc.emailAddress(), fc.string())),
              articleUrl: fc.option(fc.oneof(fc.webUrl(), fc.string())),
            })
            .map((v) => JSON.stringify(v)),
        ),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        async (body, articleId) => {
          const res = await t.app.request(
            `/api/v1/sites/${siteId}/articles/${encodeURIComponent(articleId)}/comments`,
            {
              method: 'POST',
              body,
              headers: { 'content-type': 'application/json', origin: TEST_ORIGIN },
            },
          );
          expect(res.status).toBeLessThan(500);
          if (res.status === 202) accepted++;
          else expect(res.headers.get('content-type')).toContain('application/problem+json');
        },
      ),
      { numRuns: 150, seed: 2026 },
    );
    // Only the 202s left rows behind.
    expect(await rowCount()).toBe(before + accepted);
  });

  it('survives garbage in the query and path of the read endpoints', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'binary', maxLength: 60 }),
        fc.string({ maxLength: 30 }),
        async (a, q) => {
          const enc = encodeURIComponent;
          for (const p of [
            `/api/v1/sites/${siteId}/articles/${enc(a || 'x')}/comments?limit=${enc(q)}&cursor=${enc(a)}&order=${enc(q)}`,
            `/api/v1/sites/${siteId}/comments/${enc(a || 'x')}`,
            `/api/v1/sites/${enc(a || 'x')}/form-token`,
          ]) {
            const res = await t.app.request(p);
            expect(res.status).toBeLessThan(500);
          }
        },
      ),
      { numRuns: 80, seed: 7 },
    );
  });
});
