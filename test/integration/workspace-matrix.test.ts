/**
 * Site isolation: every moderation and admin endpoint, enumerated from the OpenAPI document (so a
 * new endpoint cannot escape), called by every kind of principal against a site that is not theirs
 * answers 404 and changes nothing; anonymous callers get 401; moderators get 403 on admin routes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context';
import { seedComments, signedIn } from '../helpers/workspace';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

type Op = { method: string; path: string; admin: boolean };

/** Paths that are not about one site, reviewed by hand: anything else must carry {siteId}. */
const NOT_SITE_SCOPED = new Set(['/api/v1/moderation/session']);

function operations(doc: { paths: Record<string, Record<string, { security?: unknown[] }>> }): Op[] {
  const ops: Op[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!path.startsWith('/api/v1/moderation/') && !path.startsWith('/api/v1/admin/')) continue;
    if (NOT_SITE_SCOPED.has(path)) continue;
    expect(path, `${path} is not site-scoped; add it to NOT_SITE_SCOPED only if that is intended`).toContain(
      '{siteId}',
    );
    for (const method of Object.keys(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      ops.push({ method: method.toUpperCase(), path, admin: path.startsWith('/api/v1/admin/') });
    }
  }
  return ops;
}

/** A plausible valid body so that nothing but authorisation can be what refuses the request. */
function bodyFor(op: Op, commentId: string): unknown {
  if (op.method === 'GET' || op.method === 'DELETE') return undefined;
  if (op.path.endsWith('/reject')) return { reasonCode: 'spam' };
  if (op.path.endsWith('/bulk')) return { action: 'approve', ids: [commentId] };
  if (op.path.endsWith('/bans')) return { commentId, by: 'email', rejectPending: true };
  if (op.path.endsWith('/settings'))
    return {
      allowedOrigins: ['https://evil.example'],
      reportThreshold: 1,
      retentionDays: 1,
      eraseMode: 'delete',
    };
  if (op.path.endsWith('/members'))
    return { email: 'intruder@example.test', role: 'admin', password: 'intruder-password' };
  if (op.path.endsWith('/tokens')) return { name: 'intruder', role: 'admin' };
  if (op.path.includes('/privacy/')) return { email: 'author0@example.test' };
  if (op.path.endsWith('/policy')) return {};
  if (op.path.includes('/articles/')) return { closed: true };
  return {};
}

describe('the role x site x endpoint matrix', () => {
  it('keeps every site to its own moderators and admins', async () => {
    const siteA = await t.site();
    const siteB = await t.site();
    const { ids } = await seedComments(t, siteA, 2, { article: 'iso' });
    const commentA = ids[0]!;
    const modB = await signedIn(t, { [siteB]: 'moderator' });
    const adminB = await signedIn(t, { [siteB]: 'admin' });
    const modA = await signedIn(t, { [siteA]: 'moderator' });
    const tokModB = await t.token(siteB, 'moderator');
    const tokAdminB = await t.token(siteB, 'admin');
    const tokModA = await t.token(siteA, 'moderator');

    const outsiders: Array<[string, Record<string, string>]> = [
      ['moderator of B (session)', { cookie: modB.cookie, 'x-csrf-token': modB.csrf }],
      ['admin of B (session)', { cookie: adminB.cookie, 'x-csrf-token': adminB.csrf }],
      ['moderator of B (token)', { authorization: `Bearer ${tokModB}` }],
      ['admin of B (token)', { authorization: `Bearer ${tokAdminB}` }],
    ];

    const doc = (await (await t.request('GET', '/openapi.json')).json()) as Parameters<typeof operations>[0];
    const ops = operations(doc);
    // The workspace's own endpoints are all present (the enumeration works).
    expect(ops.length).toBeGreaterThanOrEqual(25);
    expect(ops.some((o) => o.path.endsWith('/queues/{queue}/next'))).toBe(true);
    expect(ops.some((o) => o.path.endsWith('/privacy/erase'))).toBe(true);

    const snapshot = async () => ({
      comments: await t.rt.db
        .selectFrom('comments')
        .select(['id', 'status', 'claimed_by', 'author_name'])
        .where('site_id', '=', siteA)
        .orderBy('id')
        .execute(),
      decisions: (
        await t.rt.db.selectFrom('moderation_decisions').select('id').where('site_id', '=', siteA).execute()
      ).length,
      bans: (await t.rt.db.selectFrom('bans').select('id').where('site_id', '=', siteA).execute()).length,
      members: (
        await t.rt.db.selectFrom('memberships').select('user_id').where('site_id', '=', siteA).execute()
      ).length,
      tokens: (await t.rt.db.selectFrom('api_tokens').select('id').where('site_id', '=', siteA).execute())
        .length,
      origins: (
        await t.rt.db
          .selectFrom('sites')
          .select('allowed_origins')
          .where('id', '=', siteA)
          .executeTakeFirstOrThrow()
      ).allowed_origins,
    });
    const before = await snapshot();

    const fill = (path: string, site: string) =>
      path
        .replace('{siteId}', site)
        .replace('{commentId}', commentA)
        .replace('{queue}', 'held')
        .replace('{banId}', '00000000-0000-7000-8000-000000000000')
        .replace('{userId}', modA.userId)
        .replace('{tokenId}', '00000000-0000-7000-8000-000000000000')
        .replace('{articleId}', 'iso')
        .replace(/\{[^}]+\}/g, 'x');

    let checked = 0;
    for (const op of ops) {
      // Site A's resources through site A's path, by people of site B: 404, like a site that does not exist.
      for (const [who, headers] of outsiders) {
        const res = await t.request(op.method, fill(op.path, siteA), bodyFor(op, commentA), headers);
        expect(res.status, `${who} ${op.method} ${op.path}`).toBe(404);
        checked++;
      }
      // Site A's resources through site B's path (B's own people): never A's data, never a change.
      if (/\{(commentId|userId)\}/.test(op.path)) {
        for (const [who, headers] of outsiders) {
          const res = await t.request(op.method, fill(op.path, siteB), bodyFor(op, commentA), headers);
          if (who.startsWith('moderator') && op.admin)
            expect(res.status, `${who} ${op.method} ${op.path}`).toBe(403);
          else expect(res.status, `${who} ${op.method} ${op.path} via B`).toBe(404);
          checked++;
        }
      }
      // Nobody: 401.
      const anon = await t.request(op.method, fill(op.path, siteA), bodyFor(op, commentA));
      expect(anon.status, `anonymous ${op.method} ${op.path}`).toBe(401);
      // A moderator of A on an admin route: 403.
      if (op.admin && !op.path.endsWith('/sites/{siteId}')) {
        const insiders: Array<Record<string, string>> = [
          { cookie: modA.cookie, 'x-csrf-token': modA.csrf },
          { authorization: `Bearer ${tokModA}` },
        ];
        for (const headers of insiders) {
          const res = await t.request(op.method, fill(op.path, siteA), bodyFor(op, commentA), headers);
          expect(res.status, `moderator of A ${op.method} ${op.path}`).toBe(403);
        }
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(await snapshot()).toEqual(before);

    // And the insiders really can use them (the matrix is not passing because everything is 404).
    const own = await t.request('GET', `/api/v1/moderation/sites/${siteA}/comments/${commentA}`, undefined, {
      cookie: modA.cookie,
    });
    expect(own.status).toBe(200);
  });

  it('gives nobody a role on a site whose id is the name of an Object.prototype member', async () => {
    // Site ids are publisher-chosen ([a-z0-9_-]); roles are looked up by id, and `constructor` or
    // `__proto__` must find nothing a principal was not given.
    const siteB = await t.site();
    const modB = await signedIn(t, { [siteB]: 'moderator' });
    const tokModB = await t.token(siteB, 'moderator');
    const tokAdminB = await t.token(siteB, 'admin');
    for (const id of ['constructor', '__proto__', 'toString']) {
      await t.site(undefined, undefined, id);
      await seedComments(t, id, 1, { article: `proto-${id}` });
      const outsiders: Record<string, string>[] = [
        { cookie: modB.cookie },
        { authorization: `Bearer ${tokModB}` },
      ];
      for (const headers of outsiders) {
        const res = await t.request('GET', `/api/v1/moderation/sites/${id}/queues/held`, undefined, headers);
        expect(res.status, `a moderator of another site reads ${id}'s queue`).toBe(404);
      }
      const admin = await t.request('GET', `/api/v1/admin/sites/${id}/settings`, undefined, {
        authorization: `Bearer ${tokAdminB}`,
      });
      expect(admin.status, `an admin of another site reads ${id}'s settings`).toBe(404);
      // Its own moderator still gets in.
      const own = await t.request('GET', `/api/v1/moderation/sites/${id}/queues/held`, undefined, {
        authorization: `Bearer ${await t.token(id, 'moderator')}`,
      });
      expect(own.status).toBe(200);
    }
  });
});
