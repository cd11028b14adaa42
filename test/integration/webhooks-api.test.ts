/** The webhook admin API: who may use it, what it accepts, and what it documents. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/context';

let t: TestContext;
let siteId: string;
let admin: string;

beforeAll(async () => {
  t = await createTestContext({ env: { WEBHOOKS_ALLOW_LOOPBACK: 'true' } });
  siteId = await t.site();
  admin = await t.token(siteId, 'admin');
});
afterAll(async () => {
  await t?.close();
});

const base = (s = siteId) => `/api/v1/admin/sites/${s}/webhooks/endpoints`;
const as = (token: string) => ({ authorization: `Bearer ${token}` });

async function create(body: Record<string, unknown>, token = admin) {
  return t.request('POST', base(), body, as(token));
}

/** A test message: with no workers here it stays pending, a row the log can show. */
async function sendTest(endpointId: string): Promise<string> {
  const res = await t.request('POST', `${base()}/${endpointId}/test`, {}, as(admin));
  expect(res.status).toBe(202);
  return ((await res.json()) as { messageId: string }).messageId;
}

/** An attempt as the delivery worker logs it. */
function attemptRow(messageId: string, endpointId: string) {
  return {
    message_id: messageId,
    endpoint_id: endpointId,
    attempt: 1,
    trigger: 'scheduled',
    outcome: 'http_error' as const,
    status_code: 500,
    duration_ms: 3,
    response_body: null,
    error: 'HTTP 500',
    created_at: new Date(),
  };
}

describe('webhook endpoints over the admin API', () => {
  it('creates, reads, lists, updates and deletes an endpoint; the secret is shown once', async () => {
    const res = await create({
      url: 'http://127.0.0.1:9/hook',
      description: 'CMS mirror',
      eventTypes: ['comment.published', 'comment.deleted', 'comment.published'],
    });
    expect(res.status).toBe(201);
    const { endpoint, secret } = (await res.json()) as { endpoint: Record<string, unknown>; secret: string };
    expect(secret).toMatch(/^whsec_/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(endpoint).toMatchObject({
      url: 'http://127.0.0.1:9/hook',
      description: 'CMS mirror',
      eventTypes: ['comment.published', 'comment.deleted'],
      enabled: true,
      disabledReason: null,
    });
    const id = endpoint.id as string;
    // Stored encrypted: the plain secret is nowhere in the database.
    const stored = await t.rt.db
      .selectFrom('webhook_secrets')
      .select('secret_enc')
      .where('endpoint_id', '=', id)
      .execute();
    expect(stored).toHaveLength(1);
    expect(stored[0]!.secret_enc).not.toContain(secret.slice(6, 20));

    const got = await t.request('GET', `${base()}/${id}`, undefined, as(admin));
    expect(got.status).toBe(200);
    expect(JSON.stringify(await got.json())).not.toContain('whsec_');
    const list = (await (await t.request('GET', base(), undefined, as(admin))).json()) as {
      endpoints: Array<{ id: string }>;
    };
    expect(list.endpoints.map((e) => e.id)).toContain(id);

    const patched = await t.request(
      'PATCH',
      `${base()}/${id}`,
      { enabled: false, eventTypes: [] },
      as(admin),
    );
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ enabled: false, disabledReason: 'manual', eventTypes: [] });
    expect((await t.request('POST', `${base()}/${id}/test`, {}, as(admin))).status).toBe(409);
    const enabled = await t.request('PATCH', `${base()}/${id}`, { enabled: true }, as(admin));
    expect(await enabled.json()).toMatchObject({ enabled: true, disabledReason: null });

    expect((await t.request('DELETE', `${base()}/${id}`, undefined, as(admin))).status).toBe(204);
    expect((await t.request('GET', `${base()}/${id}`, undefined, as(admin))).status).toBe(404);
    expect((await t.request('DELETE', `${base()}/${id}`, undefined, as(admin))).status).toBe(404);
  });

  it('rotates the secret: a new one, the old one expiring after the overlap', async () => {
    const { endpoint } = (await (await create({ url: 'http://127.0.0.1:9/rot' })).json()) as {
      endpoint: { id: string };
    };
    const before = Date.now();
    const res = await t.request(
      'POST',
      `${base()}/${endpoint.id}/secret/rotate`,
      { overlapSeconds: 600 },
      as(admin),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { secret: string; previousSecretsExpireAt: string };
    expect(body.secret).toMatch(/^whsec_/);
    const exp = Date.parse(body.previousSecretsExpireAt) - before;
    expect(exp).toBeGreaterThanOrEqual(600_000 - 1000);
    expect(exp).toBeLessThan(600_000 + 5000);
    const rows = await t.rt.db
      .selectFrom('webhook_secrets')
      .select(['expires_at'])
      .where('endpoint_id', '=', endpoint.id)
      .orderBy('id')
      .execute();
    expect(rows.map((r) => r.expires_at === null)).toEqual([false, true]);
    const bad = await t.request(
      'POST',
      `${base()}/${endpoint.id}/secret/rotate`,
      { overlapSeconds: -1 },
      as(admin),
    );
    expect(bad.status).toBe(422);
  });

  it('answers bad input with a problem and a machine-readable code, storing nothing', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ url: 'not a url' }, 422, 'url_not_allowed'],
      [{ url: 'ftp://example.com/' }, 422, 'url_not_allowed'],
      [{ url: 'http://10.0.0.1/' }, 422, 'url_not_allowed'],
      [{ url: 'http://169.254.169.254/' }, 422, 'url_not_allowed'],
      [{ url: 'https://user:pw@127.0.0.1/' }, 422, 'url_not_allowed'],
      [{ url: 'http://127.0.0.1/', eventTypes: ['comment.exploded'] }, 422, 'validation_failed'],
      [{ url: 'http://127.0.0.1/', extra: 1 }, 422, 'validation_failed'],
      [{ url: 'http://127.0.0.1/', description: 'x'.repeat(501) }, 422, 'validation_failed'],
      // Postgres cannot store a NUL: refused here, not a 500 from the insert.
      [{ url: 'http://127.0.0.1/', description: 'a\u0000b' }, 422, 'validation_failed'],
      [{ url: `http://127.0.0.1/${'a'.repeat(2001)}` }, 422, 'validation_failed'],
      [{}, 422, 'validation_failed'],
      ['{"url":', 400, 'invalid_json'],
    ];
    // Counted on this site only: other test files share the database.
    const count = async () =>
      (await t.rt.db.selectFrom('webhook_endpoints').select('id').where('site_id', '=', siteId).execute())
        .length;
    const countBefore = await count();
    for (const [body, status, code] of cases) {
      const res = await create(body as Record<string, unknown>);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(((await res.json()) as { code: string }).code, JSON.stringify(body)).toBe(code);
    }
    const plain = await t.request('POST', base(), undefined, { ...as(admin), 'content-type': 'text/plain' });
    expect(plain.status).toBe(415);
    expect(await count()).toBe(countBefore);

    const { endpoint } = (await (await create({ url: 'http://127.0.0.1:9/q' })).json()) as {
      endpoint: { id: string };
    };
    for (const q of ['?limit=0', '?limit=1000', '?before=abc', '?status=lost']) {
      const res = await t.request('GET', `${base()}/${endpoint.id}/messages${q}`, undefined, as(admin));
      expect(res.status, q).toBe(422);
    }
    expect((await t.request('GET', `${base()}/ep_nope/messages`, undefined, as(admin))).status).toBe(404);
    expect((await t.request('GET', `${base()}/../../x`, undefined, as(admin))).status).toBe(404);
    const redeliverMissing = await t.request(
      'POST',
      `${base()}/${endpoint.id}/messages/msg_missing/redeliver`,
      {},
      as(admin),
    );
    expect(redeliverMissing.status).toBe(404);
    const recover = await t.request(
      'POST',
      `${base()}/${endpoint.id}/recover`,
      { since: 'yesterday' },
      as(admin),
    );
    expect(recover.status).toBe(422);
    const future = await t.request(
      'POST',
      `${base()}/${endpoint.id}/recover`,
      { since: new Date(Date.now() + 3600_000).toISOString() },
      as(admin),
    );
    expect(future.status).toBe(422);
    expect(((await future.json()) as { errors: Array<{ path: string }> }).errors[0]?.path).toBe('since');
    // The same URL twice would deliver every event twice under two message ids.
    const again = await create({ url: 'http://127.0.0.1:9/q' });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'conflict', endpointId: endpoint.id });
    // Also when several arrive at once: exactly one is created.
    const racing = await Promise.all([0, 1, 2, 3, 4].map(() => create({ url: 'http://127.0.0.1:9/race' })));
    expect(racing.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
    // Nor can an update move an endpoint onto another's URL.
    const moved = await t.request(
      'PATCH',
      `${base()}/${endpoint.id}`,
      { url: 'http://127.0.0.1:9/race' },
      as(admin),
    );
    expect(moved.status).toBe(409);
  });

  it('is for admins of the site only: 401 without a token, 403 for moderators, 404 for other sites', async () => {
    const { endpoint } = (await (await create({ url: 'http://127.0.0.1:9/auth' })).json()) as {
      endpoint: { id: string };
    };
    const moderator = await t.token(siteId, 'moderator');
    const otherSite = await t.site();
    const otherAdmin = await t.token(otherSite, 'admin');
    const paths: Array<[string, string, unknown]> = [
      ['GET', base(), undefined],
      ['POST', base(), { url: 'http://127.0.0.1:9/x' }],
      ['GET', `${base()}/${endpoint.id}`, undefined],
      ['PATCH', `${base()}/${endpoint.id}`, { description: 'x' }],
      ['DELETE', `${base()}/${endpoint.id}`, undefined],
      ['POST', `${base()}/${endpoint.id}/secret/rotate`, {}],
      ['POST', `${base()}/${endpoint.id}/test`, {}],
      ['GET', `${base()}/${endpoint.id}/messages`, undefined],
      ['GET', `${base()}/${endpoint.id}/attempts`, undefined],
      ['POST', `${base()}/${endpoint.id}/recover`, { since: new Date().toISOString() }],
    ];
    for (const [method, path, body] of paths) {
      expect((await t.request(method, path, body)).status, `${method} ${path} anonymous`).toBe(401);
      expect((await t.request(method, path, body, as(moderator))).status, `${method} ${path} moderator`).toBe(
        403,
      );
      expect(
        (await t.request(method, path, body, as(otherAdmin))).status,
        `${method} ${path} other admin`,
      ).toBe(404);
    }
    // The other site's admin cannot reach this endpoint through their own site either.
    const cross = await t.request('GET', `${base(otherSite)}/${endpoint.id}`, undefined, as(otherAdmin));
    expect(cross.status).toBe(404);
    expect((await t.request('GET', `${base()}/${endpoint.id}`, undefined, as(admin))).status).toBe(200);
  });

  it("gives another site's admin, through their own site, none of this site's endpoints, messages or log", async () => {
    const { endpoint } = (await (await create({ url: 'http://127.0.0.1:9/tenant' })).json()) as {
      endpoint: { id: string };
    };
    const messageId = await sendTest(endpoint.id);
    await t.rt.db.insertInto('webhook_attempts').values(attemptRow(messageId, endpoint.id)).execute();
    const otherSite = await t.site();
    const otherAdmin = await t.token(otherSite, 'admin');
    const theirs = (await (
      await t.request('POST', base(otherSite), { url: 'http://127.0.0.1:9/tenant' }, as(otherAdmin))
    ).json()) as { endpoint: { id: string } };
    const listed = (await (await t.request('GET', base(otherSite), undefined, as(otherAdmin))).json()) as {
      endpoints: Array<{ id: string }>;
    };
    expect(listed.endpoints.map((e) => e.id)).toEqual([theirs.endpoint.id]);

    // Our endpoint's id under their site, and our message's id under their endpoint.
    const mine = `${base(otherSite)}/${endpoint.id}`;
    const ours = `${base(otherSite)}/${theirs.endpoint.id}`;
    const paths: Array<[string, string, unknown]> = [
      ['GET', mine, undefined],
      ['PATCH', mine, { description: 'taken over' }],
      ['DELETE', mine, undefined],
      ['POST', `${mine}/secret/rotate`, {}],
      ['POST', `${mine}/test`, {}],
      ['GET', `${mine}/messages`, undefined],
      ['GET', `${mine}/messages/${messageId}`, undefined],
      ['POST', `${mine}/messages/${messageId}/redeliver`, {}],
      ['GET', `${mine}/attempts`, undefined],
      ['POST', `${mine}/recover`, { since: new Date(Date.now() - 60_000).toISOString() }],
      ['GET', `${ours}/messages/${messageId}`, undefined],
      ['POST', `${ours}/messages/${messageId}/redeliver`, {}],
    ];
    await t.rt.db
      .updateTable('webhook_messages')
      .set({ status: 'failed' })
      .where('id', '=', messageId)
      .execute();
    for (const [method, path, body] of paths) {
      expect((await t.request(method, path, body, as(otherAdmin))).status, `${method} ${path}`).toBe(404);
    }
    // Nor does their own endpoint's log show ours.
    const log = (await (await t.request('GET', `${ours}/messages`, undefined, as(otherAdmin))).json()) as {
      messages: unknown[];
    };
    expect(log.messages).toEqual([]);
    const tried = (await (await t.request('GET', `${ours}/attempts`, undefined, as(otherAdmin))).json()) as {
      attempts: unknown[];
    };
    expect(tried.attempts).toEqual([]);
    // And nothing of ours changed.
    const got = await t.request('GET', `${base()}/${endpoint.id}`, undefined, as(admin));
    expect(await got.json()).toMatchObject({ description: '' });
    const secrets = await t.rt.db
      .selectFrom('webhook_secrets')
      .select('expires_at')
      .where('endpoint_id', '=', endpoint.id)
      .execute();
    expect(secrets).toEqual([{ expires_at: null }]);
    const messages = await t.rt.db
      .selectFrom('webhook_messages')
      .select(['id', 'status'])
      .where('endpoint_id', '=', endpoint.id)
      .execute();
    expect(messages).toEqual([{ id: messageId, status: 'failed' }]);
  });

  it('pages the message and attempt logs by cursor, each entry once, newest first, and filters by status', async () => {
    const { endpoint } = (await (await create({ url: 'http://127.0.0.1:9/pages' })).json()) as {
      endpoint: { id: string };
    };
    const ids = [await sendTest(endpoint.id), await sendTest(endpoint.id), await sendTest(endpoint.id)];
    await t.rt.db
      .updateTable('webhook_messages')
      .set({ status: 'failed' })
      .where('id', '=', ids[1]!)
      .execute();
    await t.rt.db
      .insertInto('webhook_attempts')
      .values(ids.map((id) => attemptRow(id, endpoint.id)))
      .execute();
    const walk = async (kind: 'messages' | 'attempts') => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await t.request(
          'GET',
          `${base()}/${endpoint.id}/${kind}?limit=1${cursor ? `&before=${cursor}` : ''}`,
          undefined,
          as(admin),
        );
        expect(res.status).toBe(200);
        const page = (await res.json()) as Record<string, Array<{ id: string; messageId?: string }>> & {
          nextCursor: string | null;
        };
        seen.push(...page[kind]!.map((x) => x.messageId ?? x.id));
        cursor = page.nextCursor;
        expect(seen.length).toBeLessThanOrEqual(4);
      } while (cursor);
      return seen;
    };
    expect(await walk('messages')).toEqual([...ids].reverse());
    expect(await walk('attempts')).toEqual([...ids].reverse());
    const failed = (await (
      await t.request('GET', `${base()}/${endpoint.id}/messages?status=failed`, undefined, as(admin))
    ).json()) as { messages: Array<{ id: string; status: string }> };
    expect(failed.messages.map((m) => [m.id, m.status])).toEqual([[ids[1], 'failed']]);
  });

  it('recovers only failed messages created since the given time, on a fresh schedule', async () => {
    const { endpoint } = (await (await create({ url: 'http://127.0.0.1:9/recover' })).json()) as {
      endpoint: { id: string };
    };
    const [old, recent, done] = [
      await sendTest(endpoint.id),
      await sendTest(endpoint.id),
      await sendTest(endpoint.id),
    ];
    await t.rt.db
      .updateTable('webhook_messages')
      .set({ status: 'failed', tries: 8, next_attempt_at: null })
      .where('id', 'in', [old!, recent!])
      .execute();
    await t.rt.db
      .updateTable('webhook_messages')
      .set({ created_at: new Date(Date.now() - 2 * 3600_000) })
      .where('id', '=', old!)
      .execute();
    await t.rt.db
      .updateTable('webhook_messages')
      .set({ status: 'succeeded', tries: 1, next_attempt_at: null })
      .where('id', '=', done!)
      .execute();
    const res = await t.request(
      'POST',
      `${base()}/${endpoint.id}/recover`,
      { since: new Date(Date.now() - 3600_000).toISOString() },
      as(admin),
    );
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ requeued: 1 });
    const rows = await t.rt.db
      .selectFrom('webhook_messages')
      .select(['id', 'status', 'tries'])
      .where('endpoint_id', '=', endpoint.id)
      .orderBy('seq')
      .execute();
    // Back to a full schedule of tries: a recovered message is not one failure from giving up.
    expect(rows).toEqual([
      { id: old, status: 'failed', tries: 8 },
      { id: recent, status: 'pending', tries: 0 },
      { id: done, status: 'succeeded', tries: 1 },
    ]);
  });

  it('edits an endpoint: its own URL again, re-enabling clears the failure, unknown fields and unsafe URLs refused', async () => {
    const url = 'http://127.0.0.1:9/edit';
    const { endpoint } = (await (await create({ url })).json()) as { endpoint: { id: string } };
    const path = `${base()}/${endpoint.id}`;
    // A form that sends the whole endpoint back sends its URL too.
    const same = await t.request('PATCH', path, { url, description: 'renamed' }, as(admin));
    expect(same.status).toBe(200);
    expect(await same.json()).toMatchObject({ url, description: 'renamed' });
    const typo = await t.request('PATCH', path, { enable: false }, as(admin));
    expect(typo.status).toBe(422);
    const unsafe = await t.request('PATCH', path, { url: 'http://10.0.0.1/' }, as(admin));
    expect(unsafe.status).toBe(422);
    expect(await unsafe.json()).toMatchObject({ code: 'url_not_allowed' });
    // Failing for days, then disabled by hand and enabled again: its 5-day clock starts over.
    await t.rt.db
      .updateTable('webhook_endpoints')
      .set({ failing_since: new Date(Date.now() - 4 * 86_400_000) })
      .where('id', '=', endpoint.id)
      .execute();
    await t.request('PATCH', path, { enabled: false }, as(admin));
    const enabled = await t.request('PATCH', path, { enabled: true }, as(admin));
    expect(await enabled.json()).toMatchObject({
      url,
      enabled: true,
      disabledReason: null,
      failingSince: null,
    });
  });

  it('refuses redelivery and recovery on a disabled endpoint, and an overlap longer than 7 days', async () => {
    const { endpoint } = (await (await create({ url: 'http://127.0.0.1:9/off' })).json()) as {
      endpoint: { id: string };
    };
    const messageId = await sendTest(endpoint.id);
    await t.rt.db
      .updateTable('webhook_messages')
      .set({ status: 'failed' })
      .where('id', '=', messageId)
      .execute();
    const path = `${base()}/${endpoint.id}`;
    await t.request('PATCH', path, { enabled: false }, as(admin));
    const redeliver = await t.request('POST', `${path}/messages/${messageId}/redeliver`, {}, as(admin));
    expect(redeliver.status).toBe(409);
    const recover = await t.request(
      'POST',
      `${path}/recover`,
      { since: new Date(Date.now() - 60_000).toISOString() },
      as(admin),
    );
    expect(recover.status).toBe(409);
    const m = await t.rt.db
      .selectFrom('webhook_messages')
      .select('status')
      .where('id', '=', messageId)
      .executeTakeFirstOrThrow();
    expect(m.status).toBe('failed');
    const week = 7 * 24 * 3600;
    expect(
      (await t.request('POST', `${path}/secret/rotate`, { overlapSeconds: week + 1 }, as(admin))).status,
    ).toBe(422);
    expect(
      (await t.request('POST', `${path}/secret/rotate`, { overlapSeconds: week }, as(admin))).status,
    ).toBe(200);
  });

  it('a rotation with no overlap ends every earlier secret now, also one an earlier rotation let run on', async () => {
    const { endpoint } = (await (await create({ url: 'http://127.0.0.1:9/revoke' })).json()) as {
      endpoint: { id: string };
    };
    const rotate = (overlapSeconds: number) =>
      t.request('POST', `${base()}/${endpoint.id}/secret/rotate`, { overlapSeconds }, as(admin));
    expect((await rotate(3600)).status).toBe(200);
    // The leaked-secret case: the first secret must stop signing now, not in an hour.
    const now = (await (await rotate(0)).json()) as { previousSecretsExpireAt: string };
    const rows = await t.rt.db
      .selectFrom('webhook_secrets')
      .select('expires_at')
      .where('endpoint_id', '=', endpoint.id)
      .orderBy('id')
      .execute();
    expect(rows.map((r) => r.expires_at?.toISOString() ?? null)).toEqual([
      now.previousSecretsExpireAt,
      now.previousSecretsExpireAt,
      null,
    ]);
  });

  it('documents the admin API and every versioned event payload in the OpenAPI document', async () => {
    const doc = (await (await t.request('GET', '/openapi.json')).json()) as {
      paths: Record<string, unknown>;
      webhooks: Record<
        string,
        { post: { requestBody: { content: Record<string, { schema: { $ref: string } }> } } }
      >;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(Object.keys(doc.paths)).toContain(
      '/api/v1/admin/sites/{siteId}/webhooks/endpoints/{endpointId}/messages/{messageId}/redeliver',
    );
    for (const type of [
      'comment.submitted',
      'comment.published',
      'comment.held',
      'comment.rejected',
      'comment.approved',
      'comment.reported',
      'comment.deleted',
      'endpoint.disabled',
    ]) {
      const ref = doc.webhooks[type]?.post.requestBody.content['application/json']?.schema.$ref;
      expect(ref, type).toMatch(/^#\/components\/schemas\/WebhookEvent_.*_v1$/);
    }
    const data = doc.components.schemas.WebhookCommentDataV1!.properties!;
    expect(Object.keys(data)).toEqual(
      expect.arrayContaining(['id', 'article', 'authorName', 'body', 'status', 'reasons']),
    );
    expect(Object.keys(data).join(' ')).not.toMatch(/email|ip|userAgent/i);
  });
});
