/**
 * The submission fast path (src/routes/comments/submit-fast-path.ts) takes plain submissions on
 * node:http before Hono. Readers and publishers must not be able to tell which path answered: the
 * same script of requests goes to a server with the fast path and to one without, each against its
 * own identical site, and every answer (status, headers, body) and every stored row must match.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveApp } from '../../src/entry';
import { authorToken, hashIp } from '../../src/lib/crypto';
import { ensureArticles, setArticleClosed } from '../../src/repositories/articles';
import { createTestContext, TEST_ORIGIN, type TestContext } from '../helpers/context';
import { bodyBytes, bodyFor, contentHeadersFor, type OpenApiDocument } from '../helpers/hostile-input';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Send {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

function send(port: number, s: Send): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = typeof s.body === 'string' ? Buffer.from(s.body) : s.body;
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: s.method ?? 'POST',
        path: s.path,
        headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...s.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function listen(server: Server): Promise<number> {
  if (!server.listening) await new Promise<void>((r) => server.once('listening', () => r()));
  return (server.address() as AddressInfo).port;
}

const json = { 'content-type': 'application/json', origin: TEST_ORIGIN };
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
/** Longer than Hono's requestId middleware takes (64): both paths must answer with an id of their own. */
const REFUSED_REQUEST_ID = `trace-${'x'.repeat(60)}`;

describe('submission fast path', () => {
  let c: TestContext;
  let fast: Server;
  let full: Server;
  let fastPort: number;
  let fullPort: number;

  beforeAll(async () => {
    c = await createTestContext({
      env: {
        // The fast path only takes sites held in the process's cache.
        CACHE_TTL_MS: '60000',
        TRUSTED_PROXIES: '127.0.0.1',
        RATE_SUBMIT_PER_IP: '1000/60',
        RATE_SUBMIT_PER_AUTHOR: '1000/60',
        MAX_BODY_BYTES: '8192',
      },
    });
    fast = serveApp(c.app, 0, '127.0.0.1');
    full = serveApp(c.app, 0, '127.0.0.1', { fastPaths: false });
    fastPort = await listen(fast);
    fullPort = await listen(full);
  });
  afterAll(async () => {
    await Promise.all([fast, full].map((s) => new Promise<void>((r) => (s ? s.close(() => r()) : r()))));
    await c?.close();
  });

  /** A fresh site, warmed into the site cache, with a closed article and a tight per-article limit. */
  async function prepareSite(port: number) {
    const siteId = await c.site({ floodControl: { perArticle: { points: 2, seconds: 60 } } });
    await ensureArticles(c.rt.db, [{ siteId, externalId: 'closed' }]);
    await setArticleClosed(c.rt.db, siteId, 'closed', true);
    const tokenRes = await send(port, { method: 'GET', path: `/api/v1/sites/${siteId}/form-token` });
    expect(tokenRes.status).toBe(200);
    return { siteId, formToken: (JSON.parse(tokenRes.body) as { token: string }).token };
  }

  /** The script: every kind of submission the fast path takes, and neighbours it must leave alone. */
  function script(siteId: string, formToken: string): (Send & { name: string; fast: boolean })[] {
    const path = (article: string) => `/api/v1/sites/${siteId}/articles/${article}/comments`;
    const ok = JSON.stringify({ authorName: 'Ann', body: 'A thoughtful point.' });
    return [
      { name: 'minimal', fast: true, path: path('a1'), headers: json, body: ok },
      {
        name: 'every field',
        fast: true,
        path: path('a2'),
        headers: {
          ...json,
          'user-agent': 'Reader/1.0',
          referer: 'https://news.example/story',
          'x-forwarded-for': '203.0.113.9',
        },
        body: JSON.stringify({
          authorName: '  Bo  ',
          authorEmail: 'bo@example.org',
          body: 'Line one\nline two',
          articleUrl: 'https://news.example/story',
          articleTitle: 'A story',
          website: 'http://spam.example',
          formToken,
          unknownField: 'stripped',
        }),
      },
      {
        name: 'no origin',
        fast: true,
        path: path('a3'),
        headers: { 'content-type': 'application/json' },
        body: ok,
      },
      {
        name: 'charset',
        fast: true,
        path: path('a4'),
        headers: { ...json, 'content-type': 'application/json; charset=UTF-8' },
        body: ok,
      },
      {
        name: 'idempotent first',
        fast: true,
        path: path('a5'),
        headers: { ...json, 'idempotency-key': 'key-0001-abcdef' },
        body: ok,
      },
      {
        name: 'idempotent replay',
        fast: true,
        path: path('a5'),
        headers: { ...json, 'idempotency-key': 'key-0001-abcdef' },
        body: ok,
      },
      {
        name: 'idempotency key reused',
        fast: true,
        path: path('a7'),
        headers: { ...json, 'idempotency-key': 'key-0001-abcdef' },
        body: JSON.stringify({ authorName: 'Ann', body: 'Something else entirely' }),
      },
      {
        name: 'bad idempotency key',
        fast: true,
        path: path('a6'),
        headers: { ...json, 'idempotency-key': 'short' },
        body: ok,
      },
      {
        name: 'request id kept',
        fast: true,
        path: path('a6'),
        headers: { ...json, 'x-request-id': 'trace-42' },
        body: ok,
      },
      {
        name: 'request id refused',
        fast: true,
        path: path('a8'),
        headers: { ...json, 'x-request-id': REFUSED_REQUEST_ID },
        body: ok,
      },
      { name: 'invalid json', fast: true, path: path('b1'), headers: json, body: '{"authorName":' },
      {
        name: 'invalid utf-8',
        fast: true,
        path: path('b1'),
        headers: json,
        body: Buffer.from([0x7b, 0xff, 0x7d]),
      },
      { name: 'array', fast: true, path: path('b1'), headers: json, body: '[]' },
      { name: 'empty body', fast: true, path: path('b1'), headers: json, body: '' },
      {
        name: 'upper-case type',
        fast: true,
        path: path('b4'),
        headers: { ...json, 'content-type': 'Application/JSON' },
        body: ok,
      },
      {
        name: 'invalid fields',
        fast: true,
        path: path('b2'),
        headers: json,
        body: JSON.stringify({ authorName: ' ', body: 'x'.repeat(20_000).slice(0, 5000), parentId: 'nope' }),
      },
      {
        name: 'parent not published',
        fast: true,
        path: path('b3'),
        headers: json,
        body: JSON.stringify({
          authorName: 'Ann',
          body: 'A reply',
          parentId: '01890000-0000-7000-8000-000000000000',
        }),
      },
      { name: 'closed article', fast: true, path: path('closed'), headers: json, body: ok },
      { name: 'limit 1', fast: true, path: path('busy'), headers: json, body: ok },
      { name: 'limit 2', fast: true, path: path('busy'), headers: json, body: ok },
      { name: 'limit 3: 429', fast: true, path: path('busy'), headers: json, body: ok },
      // Left to the full route: the answers must still be the same, from the same code.
      {
        name: 'foreign origin',
        fast: false,
        path: path('c1'),
        headers: { ...json, origin: 'https://evil.example' },
        body: ok,
      },
      {
        name: 'text/plain',
        fast: false,
        path: path('c1'),
        headers: { ...json, 'content-type': 'text/plain' },
        body: ok,
      },
      {
        name: 'two content types',
        fast: false,
        path: path('c1'),
        headers: { ...json, 'content-type': ['application/json', 'text/plain'] as unknown as string },
        body: ok,
      },
      { name: 'query string', fast: false, path: `${path('c2')}?x=1`, headers: json, body: ok },
      { name: 'too large', fast: false, path: path('c3'), headers: json, body: 'x'.repeat(9000) },
      { name: 'encoded id', fast: false, path: path('c%204'), headers: json, body: ok },
      {
        name: 'unknown site',
        fast: false,
        path: '/api/v1/sites/nosuchsite/articles/a/comments',
        headers: json,
        body: ok,
      },
    ];
  }

  /** An answer with what differs by run (ids, tokens, times, site) replaced by what it must be. */
  function normalise(a: Answer, siteId: string, ids: Map<string, string>) {
    const { date, 'x-request-id': requestId, connection, 'keep-alive': keepAlive, ...headers } = a.headers;
    expect(date).toBeTruthy();
    expect(requestId).toMatch(/^[\w-]{8,}$/);
    let body = a.body.replaceAll(siteId, '<site>');
    if (a.status === 202) {
      const parsed = JSON.parse(a.body) as { id: string; authorToken: string; editableUntil: string | null };
      expect(parsed.authorToken).toBe(authorToken(c.config.PARLEY_SECRET, parsed.id));
      expect(Date.parse(parsed.editableUntil ?? '')).toBeGreaterThan(Date.now());
      body = body.replace(parsed.authorToken, '<token>').replace(parsed.editableUntil ?? '', '<until>');
    }
    const byOrder = (s: string) =>
      s.replace(UUID, (id) => {
        if (!ids.has(id)) ids.set(id, `<id${ids.size}>`);
        return ids.get(id)!;
      });
    const location = headers.location;
    delete headers.location;
    return {
      status: a.status,
      headers,
      location: location && byOrder(location.replaceAll(siteId, '<site>')),
      body: byOrder(body),
      requestId: requestId === 'trace-42' || requestId === REFUSED_REQUEST_ID ? requestId : 'generated',
    };
  }

  async function run(port: number) {
    const { siteId, formToken } = await prepareSite(port);
    const ids = new Map<string, string>();
    const out: { name: string; answer: ReturnType<typeof normalise>; took: boolean }[] = [];
    for (const s of script(siteId, formToken)) {
      const before = c.app.fastSubmit.taken;
      const answer = await send(port, s);
      out.push({
        name: s.name,
        answer: normalise(answer, siteId, ids),
        took: c.app.fastSubmit.taken > before,
      });
    }
    const rows = await c.rt.db
      .selectFrom('comments')
      .innerJoin('articles', 'articles.id', 'comments.article_id')
      .select([
        'comments.id',
        'articles.external_id',
        'author_name',
        'author_email',
        'body',
        'status',
        'signals',
        'ip_hash',
        'user_agent',
        'referrer',
        'idempotency_key',
        'parent_id',
      ])
      .where('comments.site_id', '=', siteId)
      .orderBy('comments.id')
      .execute();
    // The form's age is a timing: present and a number on both paths, not the same number.
    const timeless = (signals: unknown) => {
      const { formAgeMs, ...rest } = signals as { formAgeMs?: unknown };
      return formAgeMs === undefined ? rest : { ...rest, formAgeMs: typeof formAgeMs };
    };
    return {
      siteId,
      out,
      rows: rows.map(({ id, signals, ...r }) => ({ id: ids.get(id), signals: timeless(signals), ...r })),
    };
  }

  it('answers and stores every submission as the full route does, taking only the plain ones', async () => {
    const viaFast = await run(fastPort);
    const viaFull = await run(fullPort);
    const expected = script('s', 't');
    expect(viaFast.out.map((o) => o.name)).toEqual(expected.map((s) => s.name));
    for (const [i, s] of expected.entries()) {
      expect(viaFast.out[i]!.took, `${s.name}: taken by the fast path`).toBe(s.fast);
      expect(viaFull.out[i]!.took, `${s.name}: the full server has no fast path`).toBe(false);
      expect(viaFast.out[i]!.answer, s.name).toEqual(viaFull.out[i]!.answer);
    }
    expect(viaFast.rows).toEqual(viaFull.rows);

    // The script means what it says: these are the answers both paths must give.
    const status = Object.fromEntries(viaFast.out.map((o) => [o.name, o.answer.status]));
    expect(status).toMatchObject({
      minimal: 202,
      'every field': 202,
      'idempotent replay': 202,
      'idempotency key reused': 422,
      'bad idempotency key': 422,
      'invalid json': 400,
      'invalid utf-8': 400,
      array: 400,
      'empty body': 400,
      'upper-case type': 202,
      'invalid fields': 422,
      'parent not published': 422,
      'closed article': 403,
      'limit 2': 202,
      'limit 3: 429': 429,
      'foreign origin': 403,
      'text/plain': 415,
      'two content types': 415,
      'query string': 202,
      'too large': 413,
      'unknown site': 404,
    });
    const replay = viaFast.out.find((o) => o.name === 'idempotent replay')!.answer;
    expect(replay.body).toBe(viaFast.out.find((o) => o.name === 'idempotent first')!.answer.body);
    expect(viaFast.out.find((o) => o.name === 'limit 3: 429')!.answer.headers['retry-after']).toMatch(
      /^\d+$/,
    );
    expect(viaFast.out.find((o) => o.name === 'request id kept')!.answer.requestId).toBe('trace-42');
    expect(viaFast.out.find((o) => o.name === 'request id refused')!.answer.requestId).toBe('generated');
    const minimal = viaFast.out.find((o) => o.name === 'minimal')!.answer;
    expect(minimal.headers).toMatchObject({
      'access-control-allow-origin': TEST_ORIGIN,
      vary: 'Origin',
      'content-type': 'application/json',
    });
    expect(minimal.location).toBe('/api/v1/sites/<site>/comments/<id0>');

    // What the request told the path reached the row: the forwarded address (from a trusted
    // proxy), the user agent and referrer, and the honeypot and form token as signals.
    const full = viaFast.rows.find((r) => r.external_id === 'a2')!;
    expect(full).toMatchObject({
      author_name: 'Bo',
      author_email: 'bo@example.org',
      ip_hash: hashIp(c.config.PARLEY_SECRET, '203.0.113.9'),
      user_agent: 'Reader/1.0',
      referrer: 'https://news.example/story',
    });
    expect(full.signals).toEqual({ honeypot: true, formToken: 'ok', formAgeMs: 'number' });
  });

  it('gives generated hostile submissions the same answers on both paths', async () => {
    const doc = JSON.parse(
      (await send(fastPort, { method: 'GET', path: '/openapi.json' })).body,
    ) as OpenApiDocument;
    const schema =
      doc.paths['/api/v1/sites/{siteId}/articles/{articleId}/comments']!.post!.requestBody!.content[
        'application/json'
      ]!.schema;
    const inputs = fc.sample(
      fc.record({
        body: bodyFor(schema, doc),
        content: contentHeadersFor(true),
        idempotencyKey: fc.option(
          fc.constantFrom('short', 'fuzz-key-0001', 'fuzz-key-0002', 'key with spaces 01'),
        ),
        origin: fc.constantFrom<string | undefined>(TEST_ORIGIN, TEST_ORIGIN, undefined, 'null'),
      }),
      { numRuns: 80, seed: 20261203 },
    );
    const sites = { fast: await prepareSite(fastPort), full: await prepareSite(fullPort) };
    const answers = { fast: [] as unknown[], full: [] as unknown[] };
    const takenBefore = c.app.fastSubmit.taken;
    for (const [i, input] of inputs.entries()) {
      for (const which of ['fast', 'full'] as const) {
        const { siteId } = sites[which];
        const headers: Record<string, string> = { ...input.content };
        if (input.origin) headers.origin = input.origin;
        if (input.idempotencyKey) headers['idempotency-key'] = input.idempotencyKey;
        const bytes = bodyBytes(input.body);
        const a = await send(which === 'fast' ? fastPort : fullPort, {
          path: `/api/v1/sites/${siteId}/articles/fuzz/comments`,
          headers,
          body: bytes && Buffer.from(bytes),
        });
        expect(a.status, `#${i} ${which}: ${a.body.slice(0, 300)}`).toBeLessThan(500);
        const parsed = JSON.parse(a.body || 'null') as Record<string, unknown> | null;
        // Ids, tokens and times differ by run; what each answer says must not.
        answers[which].push({
          status: a.status,
          type: a.headers['content-type'],
          body: a.status === 202 ? Object.keys(parsed ?? {}).sort() : parsed,
        });
      }
      expect(answers.fast[i], `input #${i}: ${JSON.stringify(input).slice(0, 400)}`).toEqual(answers.full[i]);
    }
    const statuses = new Set(answers.fast.map((a) => (a as { status: number }).status));
    // The sample covers accepted, malformed, invalid and refused submissions, and the fast path
    // took a share of them.
    for (const s of [202, 400, 415, 422]) expect(statuses).toContain(s);
    expect(c.app.fastSubmit.taken - takenBefore).toBeGreaterThan(20);
  });

  it('stores nothing when the client goes away mid-body, and goes on serving', async () => {
    const { siteId } = await prepareSite(fastPort);
    const before = c.app.fastSubmit.taken;
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port: fastPort,
        method: 'POST',
        path: `/api/v1/sites/${siteId}/articles/gone/comments`,
        headers: { ...json, 'content-length': '500' },
      });
      req.on('error', () => resolve());
      req.write('{"authorName":"Ann","body":"half');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 100);
    });
    expect(c.app.fastSubmit.taken).toBe(before + 1);
    const after = await send(fastPort, {
      path: `/api/v1/sites/${siteId}/articles/gone/comments`,
      headers: json,
      body: JSON.stringify({ authorName: 'Ann', body: 'Whole this time' }),
    });
    expect(after.status).toBe(202);
    const rows = await c.rt.db.selectFrom('comments').select('body').where('site_id', '=', siteId).execute();
    expect(rows.map((r) => r.body)).toEqual(['Whole this time']);
  });

  it('counts its answers in the request metrics under the route pattern', async () => {
    const { siteId } = await prepareSite(fastPort);
    const metricsText = async () => (await send(fastPort, { method: 'GET', path: '/metrics' })).body;
    const line = (text: string, status: string) =>
      text
        .split('\n')
        .find(
          (l) =>
            l.startsWith('parley_http_requests_total{') &&
            l.includes('method="POST"') &&
            l.includes('route="/api/v1/sites/:siteId/articles/:articleId/comments"') &&
            l.includes(`status="${status}"`),
        );
    const count = (text: string, status: string) => Number(line(text, status)?.split(' ').pop() ?? 0);
    const before = await metricsText();
    const path = `/api/v1/sites/${siteId}/articles/m/comments`;
    expect(
      (await send(fastPort, { path, headers: json, body: JSON.stringify({ authorName: 'A', body: 'B' }) }))
        .status,
    ).toBe(202);
    expect((await send(fastPort, { path, headers: json, body: '{' })).status).toBe(400);
    const after = await metricsText();
    expect(count(after, '202') - count(before, '202')).toBe(1);
    expect(count(after, '400') - count(before, '400')).toBe(1);
  });
});
