/**
 * Every operation in the served OpenAPI document, sent generated hostile input (path segments,
 * query values, bodies, content types, credentials) once as an admin of the site and once as an
 * outsider. No answer may be a 5xx; every 4xx is a problem+json with a string `code`; a 4xx
 * changes no row count; nothing pollutes Object.prototype. Each operation has its own fixed seed,
 * and a failure prints the request (method, URL, headers, body) so it can be replayed.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createSession } from '../../src/repositories/sessions';
import { createToken, revokeToken } from '../../src/repositories/tokens';
import { createUser, grantRole } from '../../src/repositories/users';
import { createTestContext, TEST_ORIGIN } from '../helpers/context';
import {
  type Body,
  bodyBytes,
  bodyFor,
  contentHeadersFor,
  type JsonSchema,
  type OpenApiDocument,
  POLLUTION_MARK,
  queryFor,
  type Segment,
  segmentFor,
} from '../helpers/hostile-input';
import { seedComments } from '../helpers/workspace';

/** Generated inputs per operation; each is sent twice (admin, outsider). */
const RUNS = 30;

const t = await createTestContext({
  // Webhook endpoints on 127.0.0.1:9 (nothing listens; no worker delivers in this file anyway).
  env: { WEBHOOKS_ALLOW_LOOPBACK: 'true', READYZ_CANARY_TIMEOUT_MS: '0' },
});
afterAll(async () => {
  await t.close();
});

const doc = (await (await t.request('GET', '/openapi.json')).json()) as OpenApiDocument;

interface Operation {
  method: string;
  path: string;
  pathParams: Array<{ name: string; schema: JsonSchema }>;
  queryParams: Array<{ name: string; schema: JsonSchema }>;
  body?: JsonSchema;
  /** The document lists a security requirement: callers without a role must be refused. */
  secured: boolean;
}

const operations: Operation[] = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([method]) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
    .map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      pathParams: (op.parameters ?? []).filter((p) => p.in === 'path'),
      queryParams: (op.parameters ?? []).filter((p) => p.in === 'query'),
      body: op.requestBody?.content['application/json']?.schema,
      secured: (op.security ?? []).length > 0,
    })),
);

// ---- fixtures: real ids for every path parameter, renewed before each operation ----------------

const siteId = await t.site();
const otherSiteId = await t.site();
const adminToken = await t.token(siteId, 'admin');
const otherSiteAdmin = await t.token(otherSiteId, 'admin');
const revoked = await createToken(t.rt.db, { siteId, role: 'admin', name: 'revoked' });
await revokeToken(t.rt.db, siteId, revoked.id);
const adminUser = await createUser(t.rt.db, {
  email: 'fuzz-admin@example.test',
  password: 'fuzz admin password',
});
await grantRole(t.rt.db, adminUser.id, siteId, 'admin');
const victimUser = await createUser(t.rt.db, {
  email: 'fuzz-victim@example.test',
  password: 'fuzz victim password',
});

let fixtures: Record<string, string[]> = {};
let session = { cookie: '', csrf: '' };
let endpointSeq = 0;

async function api(method: string, path: string, body?: unknown) {
  const res = await t.request(method, path, body, { authorization: `Bearer ${adminToken}` });
  if (res.status >= 300) throw new Error(`fixture ${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** Puts the site back as the tests expect it and makes fresh items of every kind. */
async function prepare() {
  // Directly, not through repositories/sites: importing it ahead of the app would build the policy
  // schema before @hono/zod-openapi has extended zod.
  await t.rt.db
    .updateTable('sites')
    .set({ allowed_origins: [TEST_ORIGIN] })
    .where('id', '=', siteId)
    .execute();
  t.rt.sites.invalidate(siteId);
  const held = (await seedComments(t, siteId, 3)).ids;
  const published = (await seedComments(t, siteId, 2, { status: 'published' })).ids;
  const pending = (await seedComments(t, siteId, 1, { status: 'pending' })).ids;
  const foreign = (await seedComments(t, otherSiteId, 1)).ids;
  const mod = `/api/v1/moderation/sites/${siteId}`;
  await api('POST', `${mod}/comments/${held[2]}/approve`, {});
  const ban = await api('POST', `${mod}/bans`, { commentId: held[0], by: 'email' });
  const hooks = `/api/v1/admin/sites/${siteId}/webhooks/endpoints`;
  const created = await api('POST', hooks, { url: `http://127.0.0.1:9/fuzz-${++endpointSeq}` });
  const endpointId = (created.endpoint as { id: string }).id;
  const message = await api('POST', `${hooks}/${endpointId}/test`, {});
  const victimToken = await createToken(t.rt.db, { siteId, role: 'moderator', name: 'victim' });
  await grantRole(t.rt.db, victimUser.id, siteId, 'moderator');
  const s = await createSession(t.rt.db, { userId: adminUser.id, ttlMs: 3_600_000, now: new Date() });
  session = { cookie: `parley_session=${s.token}`, csrf: s.csrfToken };
  fixtures = {
    siteId: [...Array(8).fill(siteId), otherSiteId, 'site_nope'],
    articleId: ['story-1', 'never-commented'],
    commentId: [...held, ...published, ...pending, ...foreign],
    queue: ['held', 'reported', 'pending', 'approved', 'rejected'],
    userId: [victimUser.id, '01900000-0000-7000-8000-000000000000'],
    tokenId: [victimToken.id, revoked.id],
    banId: [ban.id as string],
    endpointId: [endpointId],
    messageId: [message.messageId as string],
  };
}

// ---- requests ------------------------------------------------------------------------------------

type Outsider =
  | 'none'
  | 'garbage-bearer'
  | 'garbage-cookie'
  | 'revoked-token'
  | 'other-site-admin'
  | 'no-csrf';

interface Input {
  params: Record<string, Segment>;
  query: Array<[string, Segment]>;
  body: Body;
  content: Record<string, string>;
  headers: Array<[string, string]>;
  admin: 'token' | 'session';
  outsider: Outsider;
}

const extraHeader = fc.constantFrom<[string, string]>(
  ['origin', TEST_ORIGIN],
  ['origin', TEST_ORIGIN],
  ['origin', TEST_ORIGIN],
  ['origin', 'https://evil.example'],
  ['origin', 'null'],
  ['sec-fetch-site', 'cross-site'],
  ['idempotency-key', 'x'],
  ['idempotency-key', 'k'.repeat(300)],
  ['idempotency-key', '0123456789abcdef0123'],
  ['if-none-match', '"garbage"'],
  ['if-none-match', '*'],
  ['x-forwarded-for', '1.2.3.4, not-an-ip'],
  ['x-csrf-token', 'garbage'],
  ['accept', 'text/html'],
);

function inputFor(op: Operation): fc.Arbitrary<Input> {
  return fc.record({
    params: fc.record(
      Object.fromEntries(op.pathParams.map((p) => [p.name, segmentFor(p.schema, doc, p.name)])),
    ) as fc.Arbitrary<Record<string, Segment>>,
    query: queryFor(op.queryParams, doc),
    body: op.method === 'GET' ? fc.constant<Body>({ kind: 'none' }) : bodyFor(op.body, doc),
    content: contentHeadersFor(op.body !== undefined),
    headers: fc.array(extraHeader, { maxLength: 3 }),
    admin: fc.constantFrom('token', 'session'),
    outsider: fc.constantFrom<Outsider>(
      'none',
      'none',
      'garbage-bearer',
      'garbage-cookie',
      'revoked-token',
      'other-site-admin',
      'no-csrf',
    ),
  });
}

const wellFormed = (s: string) => s.replace(/\p{Surrogate}/gu, '\ufffd');

function text(name: string, seg: Segment): string {
  if ('raw' in seg) return seg.raw;
  if ('fixture' in seg) {
    const values = fixtures[name] ?? ['x'];
    return encodeURIComponent(values[seg.fixture % values.length]!);
  }
  return encodeURIComponent(wellFormed(seg.text));
}

function credentials(who: Input['admin'] | Outsider): Record<string, string> {
  switch (who) {
    case 'token':
      return { authorization: `Bearer ${adminToken}` };
    case 'session':
      return { cookie: session.cookie, 'x-csrf-token': session.csrf };
    case 'garbage-bearer':
      return { authorization: `Bearer ${'prl_'.padEnd(300, 'A')}` };
    case 'garbage-cookie':
      return { cookie: `parley_session=${'%zz'.repeat(100)}; __Host-parley_session=x` };
    case 'revoked-token':
      return { authorization: `Bearer ${revoked.token}` };
    case 'other-site-admin':
      return { authorization: `Bearer ${otherSiteAdmin}` };
    case 'no-csrf':
      return { cookie: session.cookie };
    default:
      return {};
  }
}

const TABLES = [
  'sites',
  'policy_versions',
  'articles',
  'comments',
  'moderation_decisions',
  'outbox',
  'api_tokens',
  'users',
  'memberships',
  'sessions',
  'bans',
  'reports',
  'site_settings',
  'webhook_endpoints',
  'webhook_secrets',
  'webhook_messages',
  'webhook_attempts',
];
const countsQuery = sql<Record<string, string>>`select ${sql.raw(
  TABLES.map((name) => `(select count(*) from ${name}) as ${name}`).join(', '),
)}`;

async function rowCounts() {
  return (await countsQuery.execute(t.rt.db)).rows[0]!;
}

const SOLE_CODE: Record<number, string> = {
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/** Row counts as of the last answer, while only 4xx answers have come since (they must change none). */
let known: Record<string, string> | undefined;

function describeRequest(method: string, url: string, headers: Record<string, string>, bytes?: Uint8Array) {
  const body =
    bytes === undefined
      ? '(none)'
      : `${bytes.length} bytes: ${JSON.stringify(Buffer.from(bytes.subarray(0, 400)).toString('utf8'))}${bytes.length > 400 ? '…' : ''}`;
  return `${method} ${url.length > 600 ? `${url.slice(0, 600)}… (${url.length} chars)` : url}\nheaders: ${JSON.stringify(headers)}\nbody ${body}`;
}

async function exchange(op: Operation, input: Input, who: Input['admin'] | Outsider) {
  const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => text(name, input.params[name]!));
  const query = input.query.map(([k, v]) => `${encodeURIComponent(k)}=${text(k, v)}`).join('&');
  const url = query ? `${path}?${query}` : path;
  const bytes = bodyBytes(input.body);
  const headers: Record<string, string> = {
    ...input.content,
    ...Object.fromEntries(input.headers),
    ...credentials(who),
  };
  known ??= await rowCounts();
  const res = await t.app.request(url, { method: op.method, headers, body: bytes as BodyInit | undefined });
  const answer = await res.text();
  const where = `${describeRequest(op.method, url, headers, bytes)}\n→ ${res.status} ${answer.slice(0, 500)}`;
  expect(res.status, where).toBeLessThan(500);
  expect(Object.hasOwn(Object.prototype, POLLUTION_MARK), `Object.prototype polluted by\n${where}`).toBe(
    false,
  );
  if (mustBeRefused(op, who, input)) expect(res.status, `let through:\n${where}`).toBeGreaterThanOrEqual(400);
  if (res.status < 400) {
    known = undefined;
    return;
  }
  expect(res.headers.get('content-type'), where).toContain('application/problem+json');
  let problem: { code?: unknown; status?: unknown } = {};
  try {
    problem = JSON.parse(answer) as typeof problem;
  } catch {
    expect.fail(`not JSON:\n${where}`);
  }
  expect(typeof problem.code, where).toBe('string');
  // A status with one meaning has its one code, whichever layer refused the request.
  if (SOLE_CODE[res.status]) expect(problem.code, where).toBe(SOLE_CODE[res.status]);
  // An admin holds every role: a secured operation may say "no such site", never "not your role".
  if ((who === 'token' || who === 'session') && op.secured) expect(problem.code, where).not.toBe('forbidden');
  expect(problem.status, where).toBe(res.status);
  expect(await rowCounts(), `a ${res.status} changed rows:\n${where}`).toEqual(known);
}

/**
 * Whether `who` has no business getting anything but an error from this operation: nobody, junk
 * or revoked credentials on a secured operation; another site's admin on this site's routes; a
 * session cookie without its CSRF token on a state change.
 */
function mustBeRefused(op: Operation, who: Input['admin'] | Outsider, input: Input): boolean {
  if (!op.secured) return false;
  switch (who) {
    case 'none':
    case 'garbage-bearer':
    case 'garbage-cookie':
    case 'revoked-token':
      return true;
    case 'other-site-admin':
      return op.path.includes('{siteId}') && text('siteId', input.params.siteId!) !== otherSiteId;
    case 'no-csrf':
      return op.method !== 'GET';
    default:
      return false;
  }
}

/** A stable seed per operation: the same inputs every run, different ones for each operation. */
function seedOf(op: Operation) {
  let h = 2166136261;
  for (const ch of `${op.method} ${op.path}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h | 0;
}

describe('every documented operation survives hostile input', () => {
  it('finds the operations in the served document', () => {
    expect(operations.length).toBeGreaterThan(40);
  });

  for (const op of operations) {
    it(`${op.method} ${op.path}`, { timeout: 60_000 }, async () => {
      await prepare();
      known = undefined;
      await fc.assert(
        fc.asyncProperty(inputFor(op), async (input) => {
          await exchange(op, input, input.admin);
          await exchange(op, input, input.outsider);
        }),
        { numRuns: RUNS, seed: seedOf(op) },
      );
    });
  }

  it('answers methods the document does not list on its paths with a problem, never a 5xx', async () => {
    await prepare();
    const fill = (path: string) =>
      path.replace(/\{(\w+)\}/g, (_, name: string) => text(name, { fixture: 0 }));
    let sent = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
        if (item[method.toLowerCase()] || (method === 'HEAD' && item.get)) continue;
        const withBody = !['GET', 'HEAD'].includes(method);
        const headers = {
          authorization: `Bearer ${adminToken}`,
          origin: TEST_ORIGIN,
          'content-type': 'application/json',
        };
        const res = await t.app.request(fill(path), { method, headers, body: withBody ? '{}' : undefined });
        const answer = await res.text();
        const where = `${method} ${fill(path)} → ${res.status} ${answer.slice(0, 300)}`;
        expect(res.status, where).toBeLessThan(500);
        if (res.status >= 400 && method !== 'HEAD') {
          expect(res.headers.get('content-type'), where).toContain('application/problem+json');
          expect(typeof (JSON.parse(answer) as { code?: unknown }).code, where).toBe('string');
        }
        if (res.status === 405) expect(res.headers.get('allow'), where).toBeTruthy();
        sent++;
      }
    }
    expect(sent).toBeGreaterThan(100);
  });
});
