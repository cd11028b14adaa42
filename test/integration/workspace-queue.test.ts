import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app';
import { hashEmail } from '../../src/lib/crypto';
import { createUser, grantRole } from '../../src/repositories/users';
import { createTestContext, type TestContext } from '../helpers/context';
import { as, outboxFor, type Session, seedComments, signedIn, statusOf } from '../helpers/workspace';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext({ env: { CLAIM_LEASE_SECONDS: '60' } });
});
afterAll(async () => {
  await t?.close();
});

const base = (siteId: string) => `/api/v1/moderation/sites/${siteId}`;

// Only the fields these tests read, so a new field in the API does not touch them; the full shapes are
// the zod schemas in src/routes/moderation/moderation.schemas.ts.
interface Problem {
  code: string;
  title: string;
}
interface QueueItem {
  id: string;
  authorName: string;
  article: { id: string };
  history: { held: number; published: number; recent: Array<{ id: string }> };
  decisions: Array<{ reasons: Array<{ spans: Array<{ start: number; end: number }> }> }>;
}
interface QueuePage {
  items: QueueItem[];
  nextCursor: string | null;
  counts: { held: number };
}
interface Claimed {
  item: QueueItem;
}
interface BulkResult {
  results: Array<{ id: string; ok: boolean; status?: string; code?: string; message?: string }>;
}
interface BanCreated {
  id: string;
  rejected: string[];
}
interface BanList {
  bans: Array<{ id: string; kind: 'email' | 'ip'; active: boolean }>;
}
interface HistoryPage {
  entries: Array<{ commentId: string; action: string; reasonCode: string | null; actorId: string | null }>;
  nextCursor: string | null;
}

describe('sessions', () => {
  it('signs in with a hashed password, sets an HttpOnly SameSite cookie and demands the CSRF token on writes', async () => {
    const siteId = await t.site();
    const s = await signedIn(t, { [siteId]: 'moderator' });
    const user = await t.rt.db
      .selectFrom('users')
      .select('password_hash')
      .where('id', '=', s.userId)
      .executeTakeFirstOrThrow();
    expect(user.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    const res = await t.request('POST', '/api/v1/moderation/session', {
      email: 'nobody@example.test',
      password: 'x',
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe('invalid_credentials');

    const { ids } = await seedComments(t, siteId, 1);
    // Cookie without the CSRF header: refused, and nothing changed.
    const noCsrf = await t.request(
      'POST',
      `${base(siteId)}/comments/${ids[0]}/approve`,
      {},
      { cookie: s.cookie },
    );
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as { code: string }).code).toBe('csrf_failed');
    const wrong = await t.request(
      'POST',
      `${base(siteId)}/comments/${ids[0]}/approve`,
      {},
      { cookie: s.cookie, 'x-csrf-token': 'nope' },
    );
    expect(wrong.status).toBe(403);
    expect(await statusOf(t, ids[0]!)).toBe('held');
    // Reads need no token.
    expect((await t.request('GET', `${base(siteId)}/queues`, undefined, { cookie: s.cookie })).status).toBe(
      200,
    );
    // With it: fine.
    expect((await as(t, s)('POST', `${base(siteId)}/comments/${ids[0]}/approve`, {})).status).toBe(200);
    // Sign out ends the session.
    expect((await as(t, s)('DELETE', '/api/v1/moderation/session')).status).toBe(204);
    expect((await t.request('GET', `${base(siteId)}/queues`, undefined, { cookie: s.cookie })).status).toBe(
      401,
    );
  });

  it('refuses a wrong password and a sign-in from another site, and slows down guessing', async () => {
    const email = `guessed-${Date.now()}@example.test`;
    // Stored as typed on one keyboard, typed on another: the same password after NFKC.
    await createUser(t.rt.db, { email, password: '\ufb01ne harbour password' });
    const signIn = (password: string, headers: Record<string, string> = {}) =>
      t.request('POST', '/api/v1/moderation/session', { email, password }, headers);
    const refused = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(((await res.json()) as { code: string }).code).toBe(code);
    };
    await refused(await signIn('fine harbour passwort'), 401, 'invalid_credentials');
    await refused(
      await signIn('fine harbour password', { 'sec-fetch-site': 'cross-site' }),
      403,
      'forbidden',
    );
    const ok = await signIn('fine harbour password');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('set-cookie')).toContain('HttpOnly');
    // The success cleared the one failure before it: ten more wrong guesses, then a pause.
    for (let i = 0; i < 10; i++) await refused(await signIn(`guess ${i}`), 401, 'invalid_credentials');
    const paused = await signIn('fine harbour password');
    expect(Number(paused.headers.get('retry-after'))).toBeGreaterThan(0);
    await refused(paused, 429, 'rate_limited');
  });

  it('marks the cookie HttpOnly, SameSite=Strict, and Secure over HTTPS', async () => {
    const siteId = await t.site();
    const u = await createUser(t.rt.db, { email: `https-${Date.now()}@example.test`, password: 'pw-123456' });
    await grantRole(t.rt.db, u.id, siteId, 'admin');
    const res = await t.app.request('https://parley.example/api/v1/moderation/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: u.email, password: 'pw-123456' }),
    });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^__Host-parley_session=/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/Secure/);
    expect(cookie).toMatch(/SameSite=Strict/);
  });
});

describe('queues and claiming', () => {
  it('lists held items with article, history and reasons with spans, keyset-paginated and filterable', async () => {
    const siteId = await t.site();
    const s = await signedIn(t, { [siteId]: 'moderator' });
    await seedComments(t, siteId, 5, { article: 'a1' });
    await seedComments(t, siteId, 3, { article: 'a2', email: 'same@example.test', authorName: 'Same' });
    const req = as(t, s);
    const p1 = (await (await req('GET', `${base(siteId)}/queues/held?limit=4`)).json()) as QueuePage;
    expect(p1.counts.held).toBe(8);
    expect(p1.items).toHaveLength(4);
    expect(p1.items[0]!.decisions[0]!.reasons[0]!.spans).toEqual([{ start: 11, end: 16 }]);
    expect(p1.items[0]!.article.id).toBe('a1');
    const p2 = (await (
      await req('GET', `${base(siteId)}/queues/held?limit=4&cursor=${p1.nextCursor}`)
    ).json()) as QueuePage;
    expect(p2.items).toHaveLength(4);
    expect(p2.nextCursor).toBeNull();
    const all = [...p1.items, ...p2.items].map((i) => i.id);
    expect(new Set(all).size).toBe(8);
    const byArticle = (await (
      await req('GET', `${base(siteId)}/queues/held?article=a2`)
    ).json()) as QueuePage;
    expect(byArticle.items).toHaveLength(3);
    // The author's recent history on the site comes with each item.
    expect(byArticle.items[0]!.history.held).toBe(2);
    const byAuthor = (await (
      await req('GET', `${base(siteId)}/queues/held?author=Same`)
    ).json()) as QueuePage;
    expect(byAuthor.items).toHaveLength(3);
    const byReason = (await (
      await req('GET', `${base(siteId)}/queues/held?reason=toxicity`)
    ).json()) as QueuePage;
    expect(byReason.items).toHaveLength(8);
    const none = (await (
      await req('GET', `${base(siteId)}/queues/held?reason=spam_link`)
    ).json()) as QueuePage;
    expect(none.items).toHaveLength(0);
    const young = (await (
      await req('GET', `${base(siteId)}/queues/held?minAgeMinutes=60`)
    ).json()) as QueuePage;
    expect(young.items).toHaveLength(0);
    expect((await req('GET', `${base(siteId)}/queues/held?cursor=garbage`)).status).toBe(422);
    // An age window empty by construction is a mistake, not an empty queue.
    const backwards = await req('GET', `${base(siteId)}/queues/held?minAgeMinutes=50&maxAgeMinutes=1`);
    expect(backwards.status).toBe(422);
    expect(((await backwards.json()) as { errors: Array<{ path: string }> }).errors[0]?.path).toBe(
      'minAgeMinutes',
    );
    expect((await req('GET', `${base(siteId)}/queues/held?minAgeMinutes=1&maxAgeMinutes=50`)).status).toBe(
      200,
    );
    expect((await req('GET', `${base(siteId)}/queues/nope`)).status).toBe(422);

    // The author by their email hash (what "this author" links send), a reason that did not decide
    // but is among the reasons, and an age window's upper end.
    const ids = async (query: string) =>
      ((await (await req('GET', `${base(siteId)}/queues/held?${query}`)).json()) as QueuePage).items.map(
        (i) => i.id,
      );
    const sameHash = hashEmail(t.config.PARLEY_SECRET, 'same@example.test');
    expect(await ids(`author=${sameHash}`)).toHaveLength(3);
    const { ids: linked } = await seedComments(t, siteId, 1, {
      article: 'a3',
      held: {
        reasonCode: 'too_many_links',
        reasons: [
          { rule: 'links', category: 'links', code: 'too_many_links', score: 0.7, message: 'links' },
          { rule: 'links', category: 'links', code: 'shortener', score: 0.8, message: 'shortener' },
        ],
      },
    });
    expect(await ids('reason=shortener')).toEqual(linked);
    await t.rt.db
      .updateTable('comments')
      .set({ created_at: new Date(Date.now() - 3 * 3600_000) })
      .where('id', '=', linked[0]!)
      .execute();
    const recent = await ids('maxAgeMinutes=60');
    expect(recent).toHaveLength(8);
    expect(recent).not.toContain(linked[0]);
  });

  it("gives every item its author's exact history, however prolific another author on the page is", async () => {
    const siteId = await t.site();
    const s = await signedIn(t, { [siteId]: 'moderator' });
    const quiet = { email: 'quiet@example.test', authorName: 'Quiet' };
    const prolific = { email: 'prolific@example.test', authorName: 'Prolific' };
    const { ids: older } = await seedComments(t, siteId, 3, { ...quiet, status: 'published' });
    await t.rt.db
      .updateTable('comments')
      .set({ created_at: new Date(Date.now() - 86_400_000) })
      .where('id', 'in', older)
      .execute();
    const { ids: many } = await seedComments(t, siteId, 120, {
      ...prolific,
      status: 'published',
      article: 'story-2',
    });
    await seedComments(t, siteId, 1, { ...quiet, article: 'story-3' });
    await seedComments(t, siteId, 1, { ...prolific, article: 'story-3' });
    // The same reader on another site is another site's business.
    await seedComments(t, await t.site(), 4, { ...quiet, status: 'published' });
    const page = (await (
      await as(t, s)('GET', `${base(siteId)}/queues/held?article=story-3`)
    ).json()) as QueuePage;
    const of = (name: string) => page.items.find((i) => i.authorName === name)!.history;
    expect(of('Quiet').published).toBe(3);
    expect(
      of('Quiet')
        .recent.map((r) => r.id)
        .sort(),
    ).toEqual([...older].sort());
    expect(of('Prolific').published).toBe(120);
    expect(of('Prolific').held).toBe(0);
    // The newest five, newest first (seeded one second apart, in order).
    expect(of('Prolific').recent.map((r) => r.id)).toEqual(many.slice(-5).reverse());
  });

  // Pending comments are kept out of the status indexes the decided queues read (migration
  // 2026-12-05T0000): the pending queue reads its own index, and neither may show another's rows.
  it('lists pending and approved comments from their own site only, oldest pending first, and counts each queue per site', async () => {
    const siteId = await t.site();
    const other = await t.site();
    const s = await signedIn(t, { [siteId]: 'moderator' });
    const { ids: pending } = await seedComments(t, siteId, 3, { status: 'pending', article: 'p1' });
    await seedComments(t, other, 2, { status: 'pending', article: 'p1' });
    const { ids: published } = await seedComments(t, siteId, 2, { status: 'published', article: 'p1' });
    await seedComments(t, siteId, 1, { status: 'held', article: 'p1' });
    // One of the published comments reported, one rejected here and one on the other site.
    await t.rt.db
      .updateTable('comments')
      .set({ reported_at: new Date() })
      .where('id', '=', published[0]!)
      .execute();
    const { ids: rejected } = await seedComments(t, siteId, 1, { status: 'published', article: 'p1' });
    const { ids: rejectedThere } = await seedComments(t, other, 1, { status: 'published', article: 'p1' });
    await t.rt.db
      .updateTable('comments')
      .set({ status: 'rejected' })
      .where('id', 'in', [...rejected, ...rejectedThere])
      .execute();
    const req = as(t, s);
    const page = async (queue: string) => {
      const res = await req('GET', `${base(siteId)}/queues/${queue}`);
      expect(res.status).toBe(200);
      return (await res.json()) as QueuePage & { counts: Record<string, number> };
    };
    const p = await page('pending');
    expect(p.items.map((i) => i.id)).toEqual(pending);
    expect(p.counts).toEqual({ pending: 3, approved: 2, held: 1, reported: 1, rejected: 1 });
    const a = await page('approved');
    expect(a.items.map((i) => i.id).sort()).toEqual([...published].sort());
  });

  it('never hands one item to two moderators, even when many ask at the same moment (real HTTP, parallel)', async () => {
    const siteId = await t.site();
    const items = 12;
    const { ids } = await seedComments(t, siteId, items);
    const mods = await Promise.all(Array.from({ length: 6 }, () => signedIn(t, { [siteId]: 'moderator' })));
    const server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    const next = (m: Session) =>
      fetch(`http://127.0.0.1:${port}${base(siteId)}/queues/held/next`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: m.cookie, 'x-csrf-token': m.csrf },
        body: '{}',
      });
    try {
      const handedTo = new Map<string, string>();
      // Each round: 6 moderators x 5 parallel requests (30 in flight, more than the items left);
      // every moderator then decides what they were handed, so the next round must hand out new ones.
      for (let round = 0; round < 6 && handedTo.size < items; round++) {
        const res = await Promise.all(
          mods.flatMap((m) =>
            [0, 1, 2, 3, 4].map(async () => {
              const r = await next(m);
              return {
                m,
                status: r.status,
                id: r.status === 200 ? ((await r.json()) as Claimed).item.id : null,
              };
            }),
          ),
        );
        const thisRound = new Map<string, string>();
        for (const r of res) {
          expect([200, 204]).toContain(r.status);
          if (!r.id) continue;
          const prev = handedTo.get(r.id) ?? thisRound.get(r.id);
          // The same moderator may be handed their own item again (a reload); never another's.
          expect(prev === undefined || prev === r.m.actorId).toBe(true);
          thisRound.set(r.id, r.m.actorId);
        }
        for (const [id, actor] of thisRound) {
          handedTo.set(id, actor);
          const m = mods.find((x) => x.actorId === actor)!;
          expect((await as(t, m)('POST', `${base(siteId)}/comments/${id}/approve`, {})).status).toBe(200);
        }
      }
      expect(new Set(handedTo.keys())).toEqual(new Set(ids));
      // Exactly one moderator decision per item, by the moderator it was handed to.
      const decisions = await t.rt.db
        .selectFrom('moderation_decisions')
        .select(['comment_id', 'actor_id'])
        .where('comment_id', 'in', ids)
        .where('actor_type', '=', 'moderator')
        .execute();
      expect(decisions).toHaveLength(items);
      for (const d of decisions) expect(d.actor_id).toBe(handedTo.get(d.comment_id));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('hands each of several moderators asking at once an item of their own while enough are free', async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 8);
    const tokens = await Promise.all(ids.map(() => t.token(siteId, 'moderator')));
    const answers = await Promise.all(
      tokens.map((token) =>
        t.request('POST', `${base(siteId)}/queues/held/next`, {}, { authorization: `Bearer ${token}` }),
      ),
    );
    // A claimer that lost a race for the oldest row must move on to the next, not report the
    // queue empty.
    expect(answers.map((r) => r.status)).toEqual(ids.map(() => 200));
    const handed = await Promise.all(answers.map(async (r) => ((await r.json()) as Claimed).item.id));
    expect(new Set(handed)).toEqual(new Set(ids));
  });

  it('hands a moderator back the item they hold before a newer free one, even if it is not the oldest', async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 3);
    const token = { authorization: `Bearer ${await t.token(siteId, 'moderator')}` };
    const claimed = (await (
      await t.request('POST', `${base(siteId)}/comments/${ids[1]}/claim`, undefined, token)
    ).json()) as { id: string };
    expect(claimed.id).toBe(ids[1]);
    for (let i = 0; i < 2; i++) {
      const again = await t.request('POST', `${base(siteId)}/queues/held/next`, {}, token);
      expect(((await again.json()) as Claimed).item.id).toBe(ids[1]);
    }
    // Skipping it passes on to the oldest free item.
    const skipped = await t.request('POST', `${base(siteId)}/queues/held/next`, { skip: [ids[1]] }, token);
    expect(((await skipped.json()) as Claimed).item.id).toBe(ids[0]);
  });

  it('lets a lease expire by itself, and refuses a claimed item to others', async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 1);
    const a = await signedIn(t, { [siteId]: 'moderator' });
    const b = await signedIn(t, { [siteId]: 'moderator' });
    const first = await as(t, a)('POST', `${base(siteId)}/queues/held/next`, {});
    expect(((await first.json()) as Claimed).item.id).toBe(ids[0]);
    expect((await as(t, b)('POST', `${base(siteId)}/queues/held/next`, {})).status).toBe(204);
    const claim = await as(t, b)('POST', `${base(siteId)}/comments/${ids[0]}/claim`);
    expect(claim.status).toBe(409);
    expect(((await claim.json()) as Problem).code).toBe('claimed_by_other');
    const act = await as(t, b)('POST', `${base(siteId)}/comments/${ids[0]}/approve`, {});
    expect(act.status).toBe(409);
    expect(((await act.json()) as Problem).code).toBe('claimed_by_other');
    // Releasing is only ever one's own lease: B's release leaves A's in place.
    expect((await as(t, b)('DELETE', `${base(siteId)}/comments/${ids[0]}/claim`)).status).toBe(204);
    expect((await as(t, b)('POST', `${base(siteId)}/queues/held/next`, {})).status).toBe(204);
    // A walks away: the lease runs out.
    await t.rt.db
      .updateTable('comments')
      .set({ claim_expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', ids[0]!)
      .execute();
    const again = await as(t, b)('POST', `${base(siteId)}/queues/held/next`, {});
    expect(((await again.json()) as Claimed).item.id).toBe(ids[0]);
    // Releasing gives it back.
    expect((await as(t, b)('DELETE', `${base(siteId)}/comments/${ids[0]}/claim`)).status).toBe(204);
    expect(
      ((await (await as(t, a)('POST', `${base(siteId)}/queues/held/next`, {})).json()) as Claimed).item.id,
    ).toBe(ids[0]);
  });
});

describe('filters and cursors from outside', () => {
  it('refuses filter text Postgres cannot hold with 422, not 500', async () => {
    const siteId = await t.site();
    const s = await signedIn(t, { [siteId]: 'moderator' });
    const req = as(t, s);
    const refused: Array<[string, string, unknown?]> = [
      ['GET', `${base(siteId)}/queues/held?author=a%00b`],
      ['GET', `${base(siteId)}/queues/held?article=a%00b`],
      ['POST', `${base(siteId)}/queues/held/next`, { author: 'a\u0000b' }],
      ['POST', `${base(siteId)}/queues/held/next`, { article: 'a\u0000b' }],
      ['GET', `${base(siteId)}/history?actor=a%00b`],
    ];
    for (const [method, path, body] of refused) {
      const res = await req(method, path, body);
      expect(res.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(422);
      expect(((await res.json()) as Problem).code).toBe('validation_failed');
    }
  });

  it('refuses cursors this API never wrote with 422, not 500, and still takes its own', async () => {
    const siteId = await t.site();
    await seedComments(t, siteId, 3, { article: 'a1' });
    const s = await signedIn(t, { [siteId]: 'moderator' });
    const req = as(t, s);
    const cursor = (text: string) => Buffer.from(text).toString('base64url');
    const uuid = '01900000-0000-7000-8000-000000000000';
    // A cursor's id and time go into SQL: only a uuid, and a time Postgres can compare.
    const refused = [
      `${base(siteId)}/queues/held?cursor=${cursor(`2026-01-01T00:00:00.000Z|${'-'.repeat(36)}`)}`,
      `${base(siteId)}/queues/held?cursor=${cursor(`-271821-04-20T00:00:00.000Z|${uuid}`)}`,
      `${base(siteId)}/history?cursor=9999999999999999999`,
    ];
    for (const path of refused) {
      const res = await req('GET', path);
      expect(res.status, path).toBe(422);
      expect(((await res.json()) as Problem).code).toBe('validation_failed');
    }
    // What the API hands out still works.
    const p1 = (await (await req('GET', `${base(siteId)}/queues/held?limit=2`)).json()) as QueuePage;
    const p2 = await req('GET', `${base(siteId)}/queues/held?limit=2&cursor=${p1.nextCursor}`);
    expect(((await p2.json()) as QueuePage).items).toHaveLength(1);
  });
});

describe('actions', () => {
  it('approve publishes with one audit row, outbox rows and a bumped thread; the second decider gets already_decided', async () => {
    const siteId = await t.site();
    const { ids, articleId } = await seedComments(t, siteId, 1);
    const a = await signedIn(t, { [siteId]: 'moderator' });
    const b = await signedIn(t, { [siteId]: 'moderator' });
    const before = await t.rt.db
      .selectFrom('articles')
      .selectAll()
      .where('id', '=', articleId)
      .executeTakeFirstOrThrow();
    const [ra, rb] = await Promise.all([
      as(t, a)('POST', `${base(siteId)}/comments/${ids[0]}/approve`, {}),
      as(t, b)('POST', `${base(siteId)}/comments/${ids[0]}/reject`, { reasonCode: 'spam' }),
    ]);
    const statuses = [ra.status, rb.status].sort();
    expect(statuses).toEqual([200, 409]);
    const loser = ra.status === 409 ? ra : rb;
    const problem = (await loser.json()) as Problem;
    expect(problem.code).toBe('already_decided');
    expect(problem.title).toMatch(/already decided/);
    const decisions = await t.rt.db
      .selectFrom('moderation_decisions')
      .selectAll()
      .where('comment_id', '=', ids[0]!)
      .where('actor_type', '=', 'moderator')
      .execute();
    expect(decisions).toHaveLength(1);
    const winner = ra.status === 200 ? 'approve' : 'reject';
    expect(decisions[0]).toMatchObject({ action: winner, from_status: 'held' });
    const topics = (await outboxFor(t, ids[0]!)).map((o) => o.topic);
    if (winner === 'approve') {
      expect(topics).toEqual(['comment.approved', 'comment.published']);
      const after = await t.rt.db
        .selectFrom('articles')
        .selectAll()
        .where('id', '=', articleId)
        .executeTakeFirstOrThrow();
      expect(after.published_count).toBe(before.published_count + 1);
      expect(Number(after.thread_version)).toBeGreaterThan(Number(before.thread_version));
    } else {
      expect(topics).toEqual(['comment.rejected']);
    }
  });

  it('reject records the reason and the learning label; undo restores within the window; bulk reports per item', async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 4);
    const s = await signedIn(t, { [siteId]: 'moderator' });
    const req = as(t, s);
    expect(
      (await req('POST', `${base(siteId)}/comments/${ids[0]}/reject`, { reasonCode: 'nonsense' })).status,
    ).toBe(422);
    const r = await req('POST', `${base(siteId)}/comments/${ids[0]}/reject`, { reasonCode: 'harassment' });
    expect(await r.json()).toEqual({ id: ids[0], status: 'rejected' });
    const ob = await outboxFor(t, ids[0]!);
    expect(ob[0]).toMatchObject({
      topic: 'comment.rejected',
      payload: { actor: 'moderator', reasonCode: 'harassment', label: 'toxic', actorId: s.actorId },
    });
    const d = await t.rt.db
      .selectFrom('moderation_decisions')
      .selectAll()
      .where('comment_id', '=', ids[0]!)
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(d).toMatchObject({
      actor_type: 'moderator',
      actor_id: s.actorId,
      action: 'reject',
      reason_code: 'harassment',
    });

    const u = await req('POST', `${base(siteId)}/comments/${ids[0]}/undo`);
    expect(await u.json()).toEqual({ id: ids[0], status: 'held' });
    expect(await statusOf(t, ids[0]!)).toBe('held');
    expect((await outboxFor(t, ids[0]!)).map((o) => o.topic)).toEqual(['comment.rejected', 'comment.undone']);
    // Nothing left to undo.
    expect(
      ((await (await req('POST', `${base(siteId)}/comments/${ids[0]}/undo`)).json()) as Problem).code,
    ).toBe('already_decided');

    // Another moderator cannot undo someone else's decision.
    await req('POST', `${base(siteId)}/comments/${ids[1]}/approve`, {});
    const other = await signedIn(t, { [siteId]: 'moderator' });
    const notYours = await as(t, other)('POST', `${base(siteId)}/comments/${ids[1]}/undo`);
    expect(notYours.status).toBe(403);
    expect(((await notYours.json()) as Problem).code).toBe('forbidden');
    // Past the window: refused.
    // The audit is append-only, so rather than age the decision, move the app's clock forward.
    const realNow = t.deps.now;
    t.deps.now = () => new Date(Date.now() + (t.config.UNDO_WINDOW_SECONDS + 5) * 1000);
    try {
      const late = await req('POST', `${base(siteId)}/comments/${ids[1]}/undo`);
      expect(((await late.json()) as Problem).code).toBe('undo_expired');
    } finally {
      t.deps.now = realNow;
    }

    const bulk = await req('POST', `${base(siteId)}/bulk`, {
      action: 'reject',
      reasonCode: 'spam',
      ids: [ids[1], ids[2], ids[3]],
    });
    const results = ((await bulk.json()) as BulkResult).results;
    expect(results).toEqual([
      { id: ids[1], ok: false, code: 'already_decided', message: expect.any(String) },
      { id: ids[2], ok: true, status: 'rejected' },
      { id: ids[3], ok: true, status: 'rejected' },
    ]);
    expect((await req('POST', `${base(siteId)}/bulk`, { action: 'reject', ids: [ids[2]] })).status).toBe(422);
  });

  it('lets an admin undo any decision, and an undone dismissal of reports puts them back in the queue', async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 1, { status: 'published' });
    const id = ids[0]!;
    await t.rt.db.updateTable('comments').set({ reported_at: new Date() }).where('id', '=', id).execute();
    const mod = as(t, await signedIn(t, { [siteId]: 'moderator' }));
    const admin = as(t, await signedIn(t, { [siteId]: 'admin' }));
    const reported = async () =>
      (
        (await (await mod('GET', `${base(siteId)}/queues/reported`)).json()) as {
          items: Array<{ id: string }>;
        }
      ).items.map((i) => i.id);
    expect(await reported()).toEqual([id]);
    // Approving a reported comment dismisses its reports.
    expect(await (await mod('POST', `${base(siteId)}/comments/${id}/approve`, {})).json()).toEqual({
      id,
      status: 'published',
    });
    expect(await reported()).toEqual([]);
    // Not the admin's own decision, and still theirs to undo: the reports are back.
    const undone = await admin('POST', `${base(siteId)}/comments/${id}/undo`);
    expect(undone.status).toBe(200);
    expect(await undone.json()).toEqual({ id, status: 'published' });
    expect(await reported()).toEqual([id]);
  });

  it('bans an author by email hash, rejects their waiting comments and rejects their next comment on arrival', async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 3, { email: 'troll@example.test', authorName: 'Troll' });
    const s = await signedIn(t, { [siteId]: 'moderator' });
    const res = await as(t, s)('POST', `${base(siteId)}/bans`, {
      commentId: ids[0],
      by: 'email',
      durationHours: 24,
      rejectPending: true,
      reason: 'repeat abuse',
    });
    expect(res.status).toBe(201);
    const ban = (await res.json()) as BanCreated;
    expect(ban.rejected.sort()).toEqual([...ids].sort());
    for (const id of ids) expect(await statusOf(t, id)).toBe('rejected');
    expect((await outboxFor(t, ids[0]!)).map((o) => o.topic)).toEqual(['author.banned', 'comment.rejected']);
    const sub = await t.submit(siteId, 'story-1', {
      authorName: 'Troll',
      authorEmail: 'Troll@example.test',
      body: 'I am back with more of the same.',
    });
    expect(sub.status).toBe(202);
    const { id } = (await sub.json()) as { id: string };
    expect(await statusOf(t, id)).toBe('rejected');
    const dec = await t.rt.db
      .selectFrom('moderation_decisions')
      .selectAll()
      .where('comment_id', '=', id)
      .execute();
    expect(dec).toHaveLength(1);
    expect(dec[0]).toMatchObject({ actor_type: 'system', reason_code: 'banned' });
    const list = (await (await as(t, s)('GET', `${base(siteId)}/bans`)).json()) as BanList;
    expect(list.bans[0]).toMatchObject({ id: ban.id, kind: 'email', active: true });
    expect((await as(t, s)('DELETE', `${base(siteId)}/bans/${ban.id}`)).status).toBe(204);
    const sub2 = await t.submit(siteId, 'story-1', {
      authorName: 'Troll',
      authorEmail: 'troll@example.test',
      body: 'Reformed, honestly, a fair point.',
    });
    expect(await statusOf(t, ((await sub2.json()) as { id: string }).id)).toBe('pending');
  });

  it('shows the history of moderator decisions, newest first', async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 2);
    const s = await signedIn(t, { [siteId]: 'moderator' });
    await as(t, s)('POST', `${base(siteId)}/comments/${ids[0]}/approve`, {});
    await as(t, s)('POST', `${base(siteId)}/comments/${ids[1]}/reject`, { reasonCode: 'off_topic' });
    const h = (await (await as(t, s)('GET', `${base(siteId)}/history?limit=1`)).json()) as HistoryPage;
    expect(h.entries[0]).toMatchObject({
      commentId: ids[1],
      action: 'reject',
      reasonCode: 'off_topic',
      actorId: s.actorId,
    });
    const h2 = (await (
      await as(t, s)('GET', `${base(siteId)}/history?limit=1&cursor=${h.nextCursor}`)
    ).json()) as HistoryPage;
    expect(h2.entries[0]).toMatchObject({ commentId: ids[0], action: 'approve' });
  });
});

describe('queue counts with caches on', () => {
  it('shares one count per site a second between pages, claims and the counts endpoint', async () => {
    let clock = Date.now();
    const app = createApp({
      ...t.rt,
      config: { ...t.rt.config, CACHE_TTL_MS: 5000 },
      now: () => new Date(clock),
    });
    const siteId = await t.site();
    const auth = { authorization: `Bearer ${await t.token(siteId, 'moderator')}` };
    const get = async <T>(path: string, method = 'GET') =>
      (await (
        await app.request(`${base(siteId)}${path}`, {
          method,
          headers: { ...auth, 'content-type': 'application/json' },
          body: method === 'POST' ? '{}' : undefined,
        })
      ).json()) as T;
    await seedComments(t, siteId, 2);
    expect((await get<{ held: number }>('/queues')).held).toBe(2);
    await seedComments(t, siteId, 1);
    // Within the second: the count already made.
    expect((await get<QueuePage>('/queues/held')).counts.held).toBe(2);
    expect((await get<{ counts: { held: number } }>('/queues/held/next', 'POST')).counts.held).toBe(2);
    clock += 1001;
    expect((await get<{ held: number }>('/queues')).held).toBe(3);
    // Another site has counts of its own.
    const other = await t.site();
    await seedComments(t, other, 1);
    const otherAuth = { authorization: `Bearer ${await t.token(other, 'moderator')}` };
    const res = await app.request(`${base(other)}/queues`, { headers: otherAuth });
    expect(((await res.json()) as { held: number }).held).toBe(1);
  });
});
