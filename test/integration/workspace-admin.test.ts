/** The admin side of the workspace API: what it accepts for accounts and API tokens. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findActiveToken } from '../../src/repositories/tokens';
import { createUser, grantRole } from '../../src/repositories/users';
import { createTestContext, type TestContext } from '../helpers/context';
import { as, type Session, signedIn } from '../helpers/workspace';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

describe('members and API tokens', () => {
  it('refuses names Postgres cannot store with 422 and stores nothing, and takes plain ones', async () => {
    const siteId = await t.site();
    const admin = { authorization: `Bearer ${await t.token(siteId, 'admin')}` };
    const base = `/api/v1/admin/sites/${siteId}`;
    const count = async (table: 'api_tokens' | 'users') =>
      Number(
        (
          await t.rt.db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const before = { tokens: await count('api_tokens'), users: await count('users') };
    const refused: Array<[string, Record<string, unknown>]> = [
      [`${base}/tokens`, { name: 'ci\u0000bot', role: 'moderator' }],
      [`${base}/tokens`, { name: 'ci\u0007bot', role: 'moderator' }],
      [
        `${base}/members`,
        {
          email: 'nul@example.test',
          role: 'moderator',
          password: 'a long enough password',
          name: 'a\u0000b',
        },
      ],
    ];
    for (const [path, body] of refused) {
      const res = await t.request('POST', path, body, admin);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(((await res.json()) as { code: string; errors: Array<{ path: string }> }).errors[0]?.path).toBe(
        'name',
      );
    }
    expect({ tokens: await count('api_tokens'), users: await count('users') }).toEqual(before);

    const token = await t.request('POST', `${base}/tokens`, { name: 'CI bot', role: 'moderator' }, admin);
    expect(token.status).toBe(201);
    const member = await t.request(
      'POST',
      `${base}/members`,
      {
        email: 'plain@example.test',
        role: 'moderator',
        password: 'a long enough password',
        name: 'Plain Name',
      },
      admin,
    );
    expect(member.status).toBe(201);
  });

  it('ends access when a session expires, its account is disabled, or its membership is removed', async () => {
    const siteId = await t.site();
    const admin = { authorization: `Bearer ${await t.token(siteId, 'admin')}` };
    const queue = (s: Session) => as(t, s)('GET', `/api/v1/moderation/sites/${siteId}/queues/held`);
    const [expired, disabled, removed] = [
      await signedIn(t, { [siteId]: 'moderator' }),
      await signedIn(t, { [siteId]: 'moderator' }),
      await signedIn(t, { [siteId]: 'moderator' }),
    ];
    for (const s of [expired, disabled, removed]) expect((await queue(s)).status).toBe(200);

    await t.rt.db
      .updateTable('sessions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('user_id', '=', expired.userId)
      .execute();
    await t.rt.db
      .updateTable('users')
      .set({ disabled_at: new Date() })
      .where('id', '=', disabled.userId)
      .execute();
    const removal = await t.request(
      'DELETE',
      `/api/v1/admin/sites/${siteId}/members/${removed.userId}`,
      undefined,
      admin,
    );
    expect(removal.status).toBe(204);

    for (const s of [expired, disabled]) {
      const res = await queue(s);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('unauthorized');
    }
    // Still signed in, but the site is now one of those it cannot see.
    const res = await queue(removed);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe('not_found');
  });

  it("records a token's last use to the minute, without a write on every request", async () => {
    const siteId = await t.site();
    const token = await t.token(siteId, 'moderator');
    const lastUsed = async () =>
      (
        await t.rt.db
          .selectFrom('api_tokens')
          .select('last_used_at')
          .where('site_id', '=', siteId)
          .executeTakeFirstOrThrow()
      ).last_used_at;
    const settled = async (check: (d: Date | null) => boolean) => {
      for (let i = 0; i < 100 && !check(await lastUsed()); i++) await new Promise((r) => setTimeout(r, 20));
      return lastUsed();
    };
    expect(await lastUsed()).toBeNull();
    await findActiveToken(t.rt.db, token);
    const first = await settled((d) => d !== null);
    expect(first).not.toBeNull();

    // Within the minute: no update (the timestamp keeps its first value).
    await t.rt.db
      .updateTable('api_tokens')
      .set({ last_used_at: new Date(Date.now() - 30_000) })
      .where('site_id', '=', siteId)
      .execute();
    const recent = await lastUsed();
    await findActiveToken(t.rt.db, token);
    await new Promise((r) => setTimeout(r, 200));
    expect(await lastUsed()).toEqual(recent);

    // Older than a minute: the next use moves it to now.
    await t.rt.db
      .updateTable('api_tokens')
      .set({ last_used_at: new Date(Date.now() - 120_000) })
      .where('site_id', '=', siteId)
      .execute();
    await findActiveToken(t.rt.db, token);
    const moved = await settled((d) => !!d && Date.now() - d.getTime() < 60_000);
    expect(Date.now() - moved!.getTime()).toBeLessThan(60_000);
  });

  it('keeps at least one enabled admin account on a site, whoever asks', async () => {
    const siteId = await t.site();
    const token = { authorization: `Bearer ${await t.token(siteId, 'admin')}` };
    const base = `/api/v1/admin/sites/${siteId}/members`;
    const roles = async () =>
      Object.fromEntries(
        (
          await t.rt.db
            .selectFrom('memberships')
            .select(['user_id', 'role'])
            .where('site_id', '=', siteId)
            .execute()
        ).map((m) => [m.user_id, m.role]),
      );
    const only = await signedIn(t, { [siteId]: 'admin' });
    const email = (
      await t.rt.db
        .selectFrom('users')
        .select('email')
        .where('id', '=', only.userId)
        .executeTakeFirstOrThrow()
    ).email;

    const refusals = [
      await t.request('DELETE', `${base}/${only.userId}`, undefined, token),
      await as(t, only)('DELETE', `${base}/${only.userId}`),
      await t.request('POST', base, { email, role: 'moderator' }, token),
    ];
    for (const res of refusals) {
      expect(res.status).toBe(409);
      expect(((await res.json()) as { code: string }).code).toBe('last_admin');
    }
    expect(await roles()).toEqual({ [only.userId]: 'admin' });

    // A disabled admin cannot sign in to the workspace, so it does not count as the one left.
    const disabled = await createUser(t.rt.db, {
      email: `off-${Date.now()}@example.test`,
      password: 'a long password',
    });
    await grantRole(t.rt.db, disabled.id, siteId, 'admin');
    await t.rt.db
      .updateTable('users')
      .set({ disabled_at: new Date() })
      .where('id', '=', disabled.id)
      .execute();
    expect((await t.request('DELETE', `${base}/${only.userId}`, undefined, token)).status).toBe(409);

    // With a second enabled admin, either of them may go.
    const second = await t.request(
      'POST',
      base,
      { email: `second-${Date.now()}@example.test`, role: 'admin', password: 'a long enough password' },
      token,
    );
    expect(second.status).toBe(201);
    const secondId = ((await second.json()) as { id: string }).id;
    expect((await as(t, only)('DELETE', `${base}/${only.userId}`)).status).toBe(204);
    expect(await roles()).toEqual({ [disabled.id]: 'admin', [secondId]: 'admin' });
    // A moderator account, or a disabled admin, can still be removed with one admin left.
    expect((await t.request('DELETE', `${base}/${disabled.id}`, undefined, token)).status).toBe(204);
    expect((await t.request('DELETE', `${base}/${secondId}`, undefined, token)).status).toBe(409);
  });

  it('lets only one of two admins who remove each other at once succeed', async () => {
    for (let round = 0; round < 8; round++) {
      const siteId = await t.site();
      const token = { authorization: `Bearer ${await t.token(siteId, 'admin')}` };
      const ids: string[] = [];
      for (const n of [1, 2]) {
        const u = await createUser(t.rt.db, {
          email: `pair${n}-${round}-${Date.now()}@example.test`,
          password: 'a long password',
        });
        await grantRole(t.rt.db, u.id, siteId, 'admin');
        ids.push(u.id);
      }
      const answers = await Promise.all(
        ids.map((id) => t.request('DELETE', `/api/v1/admin/sites/${siteId}/members/${id}`, undefined, token)),
      );
      expect(answers.map((r) => r.status).sort()).toEqual([204, 409]);
      const left = await t.rt.db
        .selectFrom('memberships')
        .select('user_id')
        .where('site_id', '=', siteId)
        .where('role', '=', 'admin')
        .execute();
      expect(left).toHaveLength(1);
    }
  });

  it('answers a double submit of a new account with the same account twice, and refuses a disabled one', async () => {
    const siteId = await t.site();
    const token = { authorization: `Bearer ${await t.token(siteId, 'admin')}` };
    const base = `/api/v1/admin/sites/${siteId}/members`;
    const email = `double-${Date.now()}@example.test`;
    const body = { email, role: 'moderator', password: 'a long enough password' };
    const answers = await Promise.all([1, 2].map(() => t.request('POST', base, body, token)));
    expect(answers.map((r) => r.status)).toEqual([201, 201]);
    const [a, b] = (await Promise.all(answers.map((r) => r.json()))) as Array<{ id: string }>;
    expect(a!.id).toBe(b!.id);
    expect(await t.rt.db.selectFrom('users').select('id').where('email', '=', email).execute()).toEqual([
      { id: a!.id },
    ]);

    await t.rt.db.updateTable('users').set({ disabled_at: new Date() }).where('id', '=', a!.id).execute();
    const other = await t.site();
    const otherToken = { authorization: `Bearer ${await t.token(other, 'admin')}` };
    for (const attempt of [{ email, role: 'admin' }, body]) {
      const res = await t.request('POST', `/api/v1/admin/sites/${other}/members`, attempt, otherToken);
      expect(res.status).toBe(409);
      expect(((await res.json()) as { code: string }).code).toBe('account_disabled');
    }
    expect(
      await t.rt.db.selectFrom('memberships').select('user_id').where('site_id', '=', other).execute(),
    ).toEqual([]);
  });
});
