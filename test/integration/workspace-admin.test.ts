/** The admin side of the workspace API: what it accepts for accounts and API tokens. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context';

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
});
