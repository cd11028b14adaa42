import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultRules } from '../../src/moderation/rules';
import { createTestContext, moderateProcessor, type TestContext, waitFor } from '../helpers/context';
import { as, signedIn } from '../helpers/workspace';

let t: TestContext;

beforeAll(async () => {
  t = await createTestContext({ workers: true });
});
afterAll(async () => {
  await t?.close();
});

const benign = (n = 0) => ({
  authorName: 'Ada',
  body: `Thank you for this careful report on the harbour council, part ${n}.`,
});

async function statusOf(siteId: string, id: string): Promise<string> {
  const res = await t.request('GET', `/api/v1/sites/${siteId}/comments/${id}`);
  return ((await res.json()) as { status: string }).status;
}

async function submitAndPublish(siteId: string, articleId: string, body: Record<string, unknown>) {
  const res = await t.submit(siteId, articleId, body);
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  await waitFor(async () => (await statusOf(siteId, id)) === 'published', `comment ${id} published`);
  return id;
}

describe('the path of a comment', () => {
  it('is accepted as pending, decided by the worker and then visible in the thread', async () => {
    const siteId = await t.site();
    const res = await t.submit(siteId, 'story-1', {
      ...benign(1),
      articleTitle: 'Story',
      articleUrl: 'https://news.example/s1',
    });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { id: string; status: string; statusUrl: string };
    expect(accepted.status).toBe('pending');
    expect(res.headers.get('location')).toBe(accepted.statusUrl);

    // The row and its outbox announcement were committed together.
    const row = await t.rt.db
      .selectFrom('comments')
      .selectAll()
      .where('id', '=', accepted.id)
      .executeTakeFirstOrThrow();
    expect(row.body).toBe(benign(1).body);
    const outbox = await t.rt.db
      .selectFrom('outbox')
      .selectAll()
      .where('comment_id', '=', accepted.id)
      .execute();
    expect(outbox.map((o) => o.topic)).toContain('comment.submitted');

    await waitFor(async () => (await statusOf(siteId, accepted.id)) === 'published', 'published');
    const thread = await t.request('GET', `/api/v1/sites/${siteId}/articles/story-1/comments`);
    expect(thread.status).toBe(200);
    const body = (await thread.json()) as {
      article: { title: string; commentCount: number };
      comments: Array<{ id: string; body: string }>;
    };
    expect(body.article.title).toBe('Story');
    expect(body.article.commentCount).toBe(1);
    expect(body.comments.map((c) => c.id)).toEqual([accepted.id]);

    const decisions = await t.rt.db
      .selectFrom('moderation_decisions')
      .selectAll()
      .where('comment_id', '=', accepted.id)
      .execute();
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({
      actor_type: 'system',
      action: 'publish',
      from_status: 'pending',
      to_status: 'published',
    });
    const announced = await waitFor(
      () =>
        t.rt.db
          .selectFrom('outbox')
          .selectAll()
          .where('comment_id', '=', accepted.id)
          .where('topic', '=', 'comment.published')
          .executeTakeFirst(),
      'comment.published outbox row',
    );
    expect(announced.payload).toMatchObject({ actor: 'system' });
  });

  it('nests replies under their parent and refuses replies to unpublished comments', async () => {
    const siteId = await t.site();
    const parent = await submitAndPublish(siteId, 'story-2', benign(2));
    const child = await submitAndPublish(siteId, 'story-2', { ...benign(3), parentId: parent });
    const grandchild = await submitAndPublish(siteId, 'story-2', { ...benign(4), parentId: child });

    const thread = (await (
      await t.request('GET', `/api/v1/sites/${siteId}/articles/story-2/comments`)
    ).json()) as {
      comments: Array<{ id: string; replies: Array<{ id: string; replies: Array<{ id: string }> }> }>;
    };
    expect(thread.comments).toHaveLength(1);
    expect(thread.comments[0]?.id).toBe(parent);
    expect(thread.comments[0]?.replies[0]?.id).toBe(child);
    expect(thread.comments[0]?.replies[0]?.replies[0]?.id).toBe(grandchild);

    // A moderator takes the middle reply down: its own answer stays, moved up under the root.
    const mod = as(t, await signedIn(t, { [siteId]: 'moderator' }));
    const rejected = await mod('POST', `/api/v1/moderation/sites/${siteId}/comments/${child}/reject`, {
      reasonCode: 'spam',
      expectedStatus: 'published',
    });
    expect(rejected.status).toBe(200);
    const after = (await (
      await t.request('GET', `/api/v1/sites/${siteId}/articles/story-2/comments`)
    ).json()) as typeof thread;
    expect(after.comments.map((c) => c.id)).toEqual([parent]);
    expect(after.comments[0]?.replies.map((r) => r.id)).toEqual([grandchild]);

    // A comment is found only through its own site.
    const elsewhere = await t.request('GET', `/api/v1/sites/${await t.site()}/comments/${parent}`);
    expect(elsewhere.status).toBe(404);
    expect(((await elsewhere.json()) as { code: string }).code).toBe('not_found');

    // A reply must answer a published comment of the same article.
    const other = await t.submit(siteId, 'story-other', { ...benign(5), parentId: parent });
    expect(other.status).toBe(422);
    expect(((await other.json()) as { code: string }).code).toBe('invalid_parent');
    const premod = await t.site({ premoderate: true });
    const held = await t.submit(premod, 'story-3', benign(6));
    const heldId = ((await held.json()) as { id: string }).id;
    await waitFor(
      async () =>
        (await t.rt.db.selectFrom('comments').select('status').where('id', '=', heldId).executeTakeFirst())
          ?.status === 'held',
      'held',
    );
    const replyToHeld = await t.submit(premod, 'story-3', { ...benign(7), parentId: heldId });
    expect(replyToHeld.status).toBe(422);
  });

  it('keeps held comments out of the thread and tells their author they are pending', async () => {
    const siteId = await t.site({ premoderate: true });
    const res = await t.submit(siteId, 'story-4', benign(8));
    const { id } = (await res.json()) as { id: string };
    await waitFor(
      async () =>
        (await t.rt.db.selectFrom('comments').select('status').where('id', '=', id).executeTakeFirst())
          ?.status === 'held',
      'held',
    );
    expect(await statusOf(siteId, id)).toBe('pending');
    const thread = (await (
      await t.request('GET', `/api/v1/sites/${siteId}/articles/story-4/comments`)
    ).json()) as {
      comments: unknown[];
    };
    expect(thread.comments).toEqual([]);
    const decision = await t.rt.db
      .selectFrom('moderation_decisions')
      .selectAll()
      .where('comment_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(decision.reason_code).toBe('premoderation');
    expect(decision.policy_version).toBe(1);
  });

  it('answers 304 to a matching If-None-Match and changes the ETag when the thread changes', async () => {
    const siteId = await t.site();
    await submitAndPublish(siteId, 'story-5', benign(9));
    const first = await t.request('GET', `/api/v1/sites/${siteId}/articles/story-5/comments`);
    const etag = first.headers.get('etag');
    expect(etag).toBeTruthy();
    expect(first.headers.get('cache-control')).toContain('max-age');
    const again = await t.request('GET', `/api/v1/sites/${siteId}/articles/story-5/comments`, undefined, {
      'if-none-match': etag!,
    });
    expect(again.status).toBe(304);
    await submitAndPublish(siteId, 'story-5', benign(10));
    const changed = await t.request('GET', `/api/v1/sites/${siteId}/articles/story-5/comments`, undefined, {
      'if-none-match': etag!,
    });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('orders oldest first by default, newest first on request, and paginates with a cursor', async () => {
    const siteId = await t.site();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await submitAndPublish(siteId, 'story-6', benign(20 + i)));
    const get = async (q: string) =>
      (await (await t.request('GET', `/api/v1/sites/${siteId}/articles/story-6/comments?${q}`)).json()) as {
        comments: Array<{ id: string }>;
        nextCursor: string | null;
      };
    const page1 = await get('limit=2');
    expect(page1.comments.map((c) => c.id)).toEqual(ids.slice(0, 2));
    const page2 = await get(`limit=2&cursor=${page1.nextCursor}`);
    expect(page2.comments.map((c) => c.id)).toEqual(ids.slice(2, 4));
    const page3 = await get(`limit=2&cursor=${page2.nextCursor}`);
    expect(page3.comments.map((c) => c.id)).toEqual(ids.slice(4));
    expect(page3.nextCursor).toBeNull();
    const newest = await get('order=newest&limit=5');
    expect(newest.comments.map((c) => c.id)).toEqual([...ids].reverse());
  });

  it('returns the same comment for a repeated Idempotency-Key', async () => {
    const siteId = await t.site();
    const headers = { 'idempotency-key': 'retry-key-0001' };
    const [a, b] = await Promise.all([
      t.submit(siteId, 'story-7', benign(30), headers),
      t.submit(siteId, 'story-7', benign(30), headers),
    ]);
    const c = await t.submit(siteId, 'story-7', benign(30), headers);
    const ids = await Promise.all([a, b, c].map(async (r) => ((await r.json()) as { id: string }).id));
    expect(new Set(ids).size).toBe(1);
    const rows = await t.rt.db.selectFrom('comments').select('id').where('site_id', '=', siteId).execute();
    expect(rows).toHaveLength(1);
  });

  it('refuses an Idempotency-Key reused for a different comment, instead of replaying the first', async () => {
    const siteId = await t.site();
    const headers = { 'idempotency-key': 'reused-key-0001' };
    const first = await t.submit(siteId, 'story-9', benign(50), headers);
    expect(first.status).toBe(202);
    const firstId = ((await first.json()) as { id: string }).id;
    const refused = async (res: Response) => {
      expect(res.status).toBe(422);
      expect(((await res.json()) as { code: string }).code).toBe('idempotency_key_reused');
    };
    // Another text, another article, another author: each a different comment.
    await refused(await t.submit(siteId, 'story-9', benign(51), headers));
    await refused(await t.submit(siteId, 'story-10', benign(50), headers));
    await refused(await t.submit(siteId, 'story-9', { ...benign(50), authorName: 'Someone else' }, headers));
    await refused(
      await t.submit(siteId, 'story-9', { ...benign(50), authorEmail: 'ada@example.org' }, headers),
    );
    const parent = await submitAndPublish(siteId, 'story-9', benign(49));
    await refused(await t.submit(siteId, 'story-9', { ...benign(50), parentId: parent }, headers));
    // Sent at the same moment (one ingest batch or two): one is stored, the other refused.
    const key2 = { 'idempotency-key': 'reused-key-0002' };
    const pair = await Promise.all([
      t.submit(siteId, 'story-9', benign(52), key2),
      t.submit(siteId, 'story-9', benign(53), key2),
    ]);
    expect(pair.map((r) => r.status).sort()).toEqual([202, 422]);
    // The true retry is still a replay.
    const retry = await t.submit(siteId, 'story-9', benign(50), headers);
    expect(retry.status).toBe(202);
    expect(((await retry.json()) as { id: string }).id).toBe(firstId);
    const rows = await t.rt.db.selectFrom('comments').select('id').where('site_id', '=', siteId).execute();
    expect(rows).toHaveLength(3);
  });

  it('refuses comments on a closed article', async () => {
    const siteId = await t.site();
    const admin = await t.token(siteId, 'admin');
    await submitAndPublish(siteId, 'story-8', benign(40));
    const close = await t.request(
      'PATCH',
      `/api/v1/admin/sites/${siteId}/articles/story-8`,
      { closed: true },
      {
        authorization: `Bearer ${admin}`,
      },
    );
    expect(close.status).toBe(200);
    const res = await t.submit(siteId, 'story-8', benign(41));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe('article_closed');
  });
});

describe('a moderate job run more than once', () => {
  it('decides the comment once: the second run and a concurrent run change nothing', async () => {
    const siteId = await t.site();
    // No workers on this context's queue can race us: submit through a context without workers.
    const quiet = await createTestContext();
    try {
      const res = await quiet.submit(siteId, 'story-9', benign(50));
      const { id } = (await res.json()) as { id: string };
      const processor = moderateProcessor(quiet, defaultRules);
      const results = await Promise.all([
        processor({ data: { commentId: id } }),
        processor({ data: { commentId: id } }),
      ]);
      const again = await processor({ data: { commentId: id } });
      expect(results.filter((r) => r.state === 'decided')).toHaveLength(1);
      expect(again).toEqual({ state: 'skipped', reason: 'already_decided' });
      const decisions = await quiet.rt.db
        .selectFrom('moderation_decisions')
        .selectAll()
        .where('comment_id', '=', id)
        .execute();
      expect(decisions).toHaveLength(1);
      const announced = await quiet.rt.db
        .selectFrom('outbox')
        .select('topic')
        .where('comment_id', '=', id)
        .where('topic', '!=', 'comment.submitted')
        .execute();
      expect(announced).toHaveLength(1);
    } finally {
      await quiet.close();
    }
  });
});
