/** The admin side of the workspace API: what it accepts for accounts and API tokens. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
