/**
 * A reader deletes their own comment with the author token of its submission: from every status,
 * against the moderation worker and a moderator who holds it, with one answer (404) for every way
 * of not proving authorship, and the thread keeping other readers' replies under a tombstone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorToken } from '../../src/lib/crypto';
import { uuidv7 } from '../../src/lib/ids';
import { defaultRules } from '../../src/moderation/rules';
import type { Rule } from '../../src/moderation/types';
import { recordSystemDecisions } from '../../src/repositories/decisions';
import { saveSettings } from '../../src/repositories/site-settings';
import { loadCommentSnapshot } from '../../src/repositories/webhooks';
import { eraseAuthor } from '../../src/services/privacy';
import { buildEventBody, eventSchemas } from '../../src/webhooks/events';
import {
  benignText,
  corsPreflight,
  createTestContext,
  moderateProcessor,
  outboxRows,
  TEST_ORIGIN,
  type TestContext,
  threadPage,
} from '../helpers/context';
import { as, signedIn } from '../helpers/workspace';

let t: TestContext;
beforeAll(async () => {
  // No workers: each test runs the moderate processor itself, at the moment it needs to.
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

interface Accepted {
  id: string;
  status: string;
  authorToken: string;
}
interface Problem {
  code: string;
  status: number;
}
interface ThreadComment {
  id: string;
  authorName: string;
  body: string;
  deleted?: true;
  replies: ThreadComment[];
}
interface Thread {
  article: { commentCount: number };
  comments: ThreadComment[];
}

const benign = () => ({ authorName: 'Ada', body: benignText() });

const processor = (rules: readonly Rule[] = defaultRules) => moderateProcessor(t, rules);

async function post(siteId: string, article: string, extra: Record<string, unknown> = {}, key?: string) {
  const res = await t.submit(
    siteId,
    article,
    { ...benign(), ...extra },
    key ? { 'idempotency-key': key } : {},
  );
  expect(res.status).toBe(202);
  return (await res.json()) as Accepted;
}

/** Posted and decided by the real pipeline (benign text on a default site: published). */
async function published(siteId: string, article: string, extra: Record<string, unknown> = {}) {
  const a = await post(siteId, article, extra);
  expect(await processor()({ data: { commentId: a.id } })).toEqual({ state: 'decided', outcome: 'publish' });
  return a;
}

const withdraw = (siteId: string, id: string, body: unknown, headers: Record<string, string> = {}) =>
  t.request('POST', `/api/v1/sites/${siteId}/comments/${id}/withdraw`, body, {
    origin: TEST_ORIGIN,
    ...headers,
  });

async function expectWithdrawn(siteId: string, a: Accepted) {
  const res = await withdraw(siteId, a.id, { authorToken: a.authorToken });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ id: a.id, status: 'deleted' });
}

async function expectNotFound(res: Response) {
  expect(res.status).toBe(404);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(((await res.json()) as Problem).code).toBe('not_found');
}

const row = (id: string) =>
  t.rt.db.selectFrom('comments').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const decisions = (id: string) =>
  t.rt.db.selectFrom('moderation_decisions').selectAll().where('comment_id', '=', id).orderBy('id').execute();
const outbox = (id: string, topic?: string) => outboxRows(t, id, topic);

const thread = (siteId: string, article: string, headers: Record<string, string> = {}) =>
  threadPage<Thread>(t, siteId, article, headers);

describe('the author token', () => {
  it('comes with the 202, is the same for an idempotent replay and differs per comment', async () => {
    const siteId = await t.site();
    const key = `withdraw-key-${uuidv7()}`;
    const first = await post(siteId, 'token', { body: 'A comment I might regret.' }, key);
    const replay = await post(siteId, 'token', { body: 'A comment I might regret.' }, key);
    expect(replay.id).toBe(first.id);
    expect(first.authorToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(replay.authorToken).toBe(first.authorToken);
    expect(first.authorToken).toBe(authorToken(t.config.PARLEY_SECRET, first.id));
    const other = await post(siteId, 'token');
    expect(other.authorToken).not.toBe(first.authorToken);
  });

  it('is documented in the OpenAPI document, with the withdraw route and each of its answers', async () => {
    const doc = (await (await t.request('GET', '/openapi.json')).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
    };
    expect(doc.components.schemas.CommentAccepted?.required).toContain('authorToken');
    expect(doc.components.schemas.PublicComment?.properties).toHaveProperty('deleted');
    const route = doc.paths['/api/v1/sites/{siteId}/comments/{commentId}/withdraw']?.post;
    expect(Object.keys(route?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '403', '404', '415', '422']),
    );
  });
});

describe('withdrawing a comment', () => {
  it('while it is pending: the worker then finds nothing to decide, and nothing is published', async () => {
    const siteId = await t.site();
    const a = await post(siteId, 'pending');
    const before = await t.rt.db
      .selectFrom('articles')
      .select('thread_version')
      .where('site_id', '=', siteId)
      .where('external_id', '=', 'pending')
      .executeTakeFirstOrThrow();
    await expectWithdrawn(siteId, a);

    const c = await row(a.id);
    expect(c).toMatchObject({ status: 'deleted', body: '' });
    expect(c.decided_at).toBeInstanceOf(Date);
    expect(await processor()({ data: { commentId: a.id } })).toEqual({
      state: 'skipped',
      reason: 'already_decided',
    });
    // The worker's own write, should it have read the row before: the compare-and-set finds no
    // pending comment and writes nothing.
    const late = await recordSystemDecisions(t.rt.db, [
      {
        commentId: a.id,
        to: 'published',
        action: 'publish',
        reasonCode: null,
        reasons: [],
        scores: {},
        policyVersion: 1,
        topic: 'comment.published',
      },
    ]);
    expect(late).toEqual([]);
    expect((await row(a.id)).status).toBe('deleted');
    expect((await decisions(a.id)).map((d) => d.actor_type)).toEqual(['author']);
    expect(await outbox(a.id, 'comment.published')).toEqual([]);
    // A pending comment was on no page: readers' cached pages are left alone.
    const after = await t.rt.db
      .selectFrom('articles')
      .select(['thread_version', 'published_count'])
      .where('site_id', '=', siteId)
      .where('external_id', '=', 'pending')
      .executeTakeFirstOrThrow();
    expect(after).toEqual({ thread_version: before.thread_version, published_count: 0 });
    const status = await t.request('GET', `/api/v1/sites/${siteId}/comments/${a.id}`);
    expect(((await status.json()) as { status: string }).status).toBe('rejected');
  });

  it('while the worker is deciding it: the worker loses the race cleanly and publishes nothing', async () => {
    const siteId = await t.site();
    const a = await post(siteId, 'race');
    // A rule that takes its time, during which the author deletes the comment.
    const slow: Rule = {
      id: 'author-deletes-meanwhile',
      async run() {
        await expectWithdrawn(siteId, a);
        return null;
      },
    };
    expect(await processor([slow])({ data: { commentId: a.id } })).toEqual({
      state: 'skipped',
      reason: 'lost_race',
    });
    expect((await row(a.id)).status).toBe('deleted');
    expect((await decisions(a.id)).map((d) => d.actor_type)).toEqual(['author']);
    expect((await outbox(a.id)).map((o) => o.topic)).toEqual(['comment.submitted', 'comment.deleted']);
  });

  it('while a moderator holds it: the claim goes, the queue drops it, and their decision is a clean 409', async () => {
    const siteId = await t.site({ premoderate: true });
    const mod = as(t, await signedIn(t, { [siteId]: 'moderator' }));
    const base = `/api/v1/moderation/sites/${siteId}`;
    const a = await post(siteId, 'held');
    expect(await processor()({ data: { commentId: a.id } })).toEqual({ state: 'decided', outcome: 'hold' });
    expect((await mod('POST', `${base}/comments/${a.id}/claim`)).status).toBe(200);
    expect((await row(a.id)).claimed_by).not.toBeNull();

    await expectWithdrawn(siteId, a);
    const c = await row(a.id);
    expect(c).toMatchObject({ status: 'deleted', body: '', claimed_by: null, claim_expires_at: null });
    const held = (await (await mod('GET', `${base}/queues/held`)).json()) as {
      items: unknown[];
      counts: { held: number };
    };
    expect(held.items).toEqual([]);
    expect(held.counts.held).toBe(0);
    expect((await mod('POST', `${base}/queues/held/next`, {})).status).toBe(204);

    for (const [path, body] of [
      ['approve', {}],
      ['reject', { reasonCode: 'spam' }],
      // Not even by naming the status it now has: a deleted comment is never published again.
      ['approve', { expectedStatus: 'deleted' }],
    ] as const) {
      const res = await mod('POST', `${base}/comments/${a.id}/${path}`, body);
      expect(res.status, path).toBe(409);
      expect(((await res.json()) as Problem).code).toBe('already_decided');
    }
    const bulk = (await (await mod('POST', `${base}/bulk`, { action: 'approve', ids: [a.id] })).json()) as {
      results: Array<{ ok: boolean; code?: string }>;
    };
    expect(bulk.results).toEqual([expect.objectContaining({ ok: false, code: 'already_decided' })]);
    // Nothing to undo: the last decision is the author's, not a moderator's.
    const undo = await mod('POST', `${base}/comments/${a.id}/undo`);
    expect(undo.status).toBe(409);
    expect(((await undo.json()) as Problem).code).toBe('already_decided');
    expect((await row(a.id)).status).toBe('deleted');

    // The workspace shows it: the item with the author's decision, and the history naming the actor.
    const item = (await (await mod('GET', `${base}/comments/${a.id}`)).json()) as {
      status: string;
      decisions: Array<{ actorType: string; action: string; toStatus: string }>;
    };
    expect(item.status).toBe('deleted');
    expect(item.decisions.at(-1)).toMatchObject({
      actorType: 'author',
      action: 'withdraw',
      toStatus: 'deleted',
    });
    const history = (await (await mod('GET', `${base}/history`)).json()) as {
      entries: Array<{ commentId: string; actorType: string; actorId: string | null; action: string }>;
    };
    expect(history.entries).toEqual([
      expect.objectContaining({ commentId: a.id, actorType: 'author', actorId: null, action: 'withdraw' }),
    ]);
  });

  it('once published: the thread and the counts drop it at once, the ETag moves, and it is audited and announced once', async () => {
    const siteId = await t.site();
    const keep = await published(siteId, 'live');
    const a = await published(siteId, 'live');
    const before = await thread(siteId, 'live');
    expect(before.body?.article.commentCount).toBe(2);
    expect(before.body?.comments.map((c) => c.id).sort()).toEqual([keep.id, a.id].sort());
    const etag = before.res.headers.get('etag')!;

    await expectWithdrawn(siteId, a);
    const after = await thread(siteId, 'live', { 'if-none-match': etag });
    expect(after.res.status).toBe(200);
    expect(after.res.headers.get('etag')).not.toBe(etag);
    expect(after.body?.article.commentCount).toBe(1);
    expect(after.body?.comments.map((c) => c.id)).toEqual([keep.id]);
    const counts = await t.request('GET', `/api/v1/sites/${siteId}/counts?article=live`);
    expect(await counts.json()).toEqual({ counts: { live: 1 } });

    // Again: the same answer, and nothing new anywhere.
    await expectWithdrawn(siteId, a);
    const audit = await decisions(a.id);
    expect(audit.map((d) => [d.actor_type, d.action, d.from_status, d.to_status])).toEqual([
      ['system', 'publish', 'pending', 'published'],
      ['author', 'withdraw', 'published', 'deleted'],
    ]);
    expect(audit[1]).toMatchObject({ actor_id: null, reason_code: 'withdrawn' });
    const deleted = await outbox(a.id, 'comment.deleted');
    expect(deleted).toHaveLength(1);
    expect(deleted[0]!.payload).toMatchObject({ actor: 'author', reasonCode: 'withdrawn' });
    expect((await thread(siteId, 'live')).body?.article.commentCount).toBe(1);

    // The webhook a publisher receives: valid against the published schema, without the text.
    const event = buildEventBody(deleted[0]!, await loadCommentSnapshot(t.rt.db, a.id));
    expect(eventSchemas['comment.deleted']!.safeParse(event).success).toBe(true);
    expect(event?.data).toMatchObject({
      id: a.id,
      status: 'deleted',
      actor: 'author',
      reasonCode: 'withdrawn',
      erasure: false,
      body: null,
      authorName: null,
    });
  });

  it('once rejected: it is deleted all the same', async () => {
    const siteId = await t.site({ premoderate: true });
    const mod = as(t, await signedIn(t, { [siteId]: 'moderator' }));
    const a = await post(siteId, 'rejected');
    await processor()({ data: { commentId: a.id } });
    expect(
      (
        await mod('POST', `/api/v1/moderation/sites/${siteId}/comments/${a.id}/reject`, {
          reasonCode: 'spam',
        })
      ).status,
    ).toBe(200);
    await expectWithdrawn(siteId, a);
    expect(await row(a.id)).toMatchObject({ status: 'deleted', body: '' });
    expect((await decisions(a.id)).map((d) => `${d.actor_type}:${d.from_status}>${d.to_status}`)).toEqual([
      'system:pending>held',
      'moderator:held>rejected',
      'author:rejected>deleted',
    ]);
  });
});

describe('refusals', () => {
  it('answers 404 problem+json for every way of not proving authorship, and changes nothing', async () => {
    const siteId = await t.site();
    const otherSite = await t.site();
    const a = await published(siteId, 'refusals');
    const b = await post(siteId, 'refusals');
    const unknown = uuidv7();
    const secret = t.config.PARLEY_SECRET;

    await expectNotFound(await withdraw(siteId, a.id, { authorToken: 'not-the-token' }));
    await expectNotFound(await withdraw(siteId, a.id, { authorToken: a.authorToken.slice(0, -1) }));
    await expectNotFound(await withdraw(siteId, a.id, { authorToken: b.authorToken }));
    await expectNotFound(await withdraw(siteId, a.id, {}));
    await expectNotFound(await withdraw(siteId, a.id, { authorToken: '' }));
    // The right token for a comment of another site, or for an id no comment has.
    await expectNotFound(await withdraw(otherSite, a.id, { authorToken: a.authorToken }));
    await expectNotFound(await withdraw(siteId, unknown, { authorToken: authorToken(secret, unknown) }));
    // Ids that are not ids.
    for (const id of [
      'not-a-uuid',
      '123',
      `${a.id}x`,
      '%00',
      'constructor',
      encodeURIComponent("' or 1=1 --"),
    ]) {
      await expectNotFound(await withdraw(siteId, id, { authorToken: authorToken(secret, id) }));
    }
    await expectNotFound(await withdraw('no-such-site', a.id, { authorToken: a.authorToken }));
    await expectNotFound(await withdraw('bad%00site', a.id, { authorToken: a.authorToken }));

    // Not JSON, or not the documented shape: the usual answers, before anything is looked up.
    const form = await t.request('POST', `/api/v1/sites/${siteId}/comments/${a.id}/withdraw`, undefined, {
      origin: TEST_ORIGIN,
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
    expect(((await form.json()) as Problem).code).toBe('unsupported_media_type');
    const typed = await withdraw(siteId, a.id, { authorToken: 42 });
    expect(typed.status).toBe(422);
    expect(((await typed.json()) as Problem).code).toBe('validation_failed');
    const broken = await withdraw(siteId, a.id, '{"authorToken":');
    expect(broken.status).toBe(400);
    // A page on an origin the site does not allow cannot do it even with the token.
    const foreign = await withdraw(
      siteId,
      a.id,
      { authorToken: a.authorToken },
      { origin: 'https://evil.example' },
    );
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as Problem).code).toBe('origin_not_allowed');
    // While the embed on an allowed page gets through its CORS preflight (every other withdraw in
    // this file is sent with that page's Origin).
    const preflight = await corsPreflight(t, `/api/v1/sites/${siteId}/comments/${a.id}/withdraw`);
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(TEST_ORIGIN);

    expect((await row(a.id)).status).toBe('published');
    expect((await row(b.id)).status).toBe('pending');
    expect((await decisions(a.id)).map((d) => d.actor_type)).toEqual(['system']);
    expect(await outbox(a.id, 'comment.deleted')).toEqual([]);
  });
});

describe('the thread after an author deletes', () => {
  it('keeps other readers’ replies under a tombstone, and drops the tombstone when nothing published is left under it', async () => {
    const siteId = await t.site();
    const root = await published(siteId, 'tomb', {
      authorName: 'Root',
      body: 'The lamp should stay lit, I think.',
    });
    const reply = await published(siteId, 'tomb', {
      authorName: 'Reply',
      body: 'I disagree, the footpath matters more.',
      parentId: root.id,
    });
    const deep = await published(siteId, 'tomb', {
      authorName: 'Deep',
      body: 'Both can happen, a year apart.',
      parentId: reply.id,
    });
    const lonely = await published(siteId, 'tomb', {
      authorName: 'Lonely',
      body: 'A reply nobody answered.',
      parentId: root.id,
    });

    await expectWithdrawn(siteId, root);
    await expectWithdrawn(siteId, lonely);
    let page = (await thread(siteId, 'tomb')).body!;
    expect(page.article.commentCount).toBe(2);
    expect(page.comments).toEqual([
      expect.objectContaining({
        id: root.id,
        deleted: true,
        authorName: '',
        body: '',
        replies: [
          expect.objectContaining({
            id: reply.id,
            authorName: 'Reply',
            replies: [expect.objectContaining({ id: deep.id, authorName: 'Deep', replies: [] })],
          }),
        ],
      }),
    ]);
    expect(page.comments[0]!.replies[0]).not.toHaveProperty('deleted');
    // Nothing of the deleted comments' text or names is served.
    const raw = JSON.stringify(page);
    expect(raw).not.toContain('The lamp should stay lit');
    expect(raw).not.toContain('Root');
    expect(raw).not.toContain('Lonely');

    // The reply in the middle goes too: its own tombstone keeps the deepest reply in place.
    await expectWithdrawn(siteId, reply);
    page = (await thread(siteId, 'tomb')).body!;
    expect(page.article.commentCount).toBe(1);
    expect(page.comments[0]).toMatchObject({
      id: root.id,
      deleted: true,
      replies: [{ id: reply.id, deleted: true, authorName: '', body: '', replies: [{ id: deep.id }] }],
    });

    // The last published comment goes: nothing is left to keep a tombstone for.
    await expectWithdrawn(siteId, deep);
    page = (await thread(siteId, 'tomb')).body!;
    expect(page.article.commentCount).toBe(0);
    expect(page.comments).toEqual([]);
  });

  it('brings back, under its tombstone, the replies of a comment a moderator had taken down', async () => {
    const siteId = await t.site();
    const root = await published(siteId, 'taken-down', { authorName: 'Root' });
    const reply = await published(siteId, 'taken-down', { authorName: 'Reply', parentId: root.id });
    const mod = as(t, await signedIn(t, { [siteId]: 'moderator' }));
    const rejected = await mod('POST', `/api/v1/moderation/sites/${siteId}/comments/${root.id}/reject`, {
      reasonCode: 'spam',
      expectedStatus: 'published',
    });
    expect(rejected.status).toBe(200);
    // A rejected root hides its whole thread, replies included.
    expect((await thread(siteId, 'taken-down')).body!.comments).toEqual([]);
    const version = async () =>
      (
        await t.rt.db
          .selectFrom('articles')
          .select('thread_version')
          .where('site_id', '=', siteId)
          .where('external_id', '=', 'taken-down')
          .executeTakeFirstOrThrow()
      ).thread_version;
    const before = BigInt(await version());
    await expectWithdrawn(siteId, root);
    // What the page shows changed, so its version moves and no cached copy of it is served again.
    expect(BigInt(await version())).toBeGreaterThan(before);
    const page = (await thread(siteId, 'taken-down')).body!;
    expect(page.comments).toEqual([
      expect.objectContaining({
        id: root.id,
        deleted: true,
        replies: [expect.objectContaining({ id: reply.id, authorName: 'Reply' })],
      }),
    ]);
  });

  it('treats a comment erased at its author’s request (erase mode delete) the same way', async () => {
    const siteId = await t.site();
    await saveSettings(t.rt.db, siteId, { reportThreshold: 3, retentionDays: 90, eraseMode: 'delete' });
    const erased = await published(siteId, 'erased', { authorEmail: 'erase.me@example.test' });
    const reply = await published(siteId, 'erased', { authorName: 'Stays', parentId: erased.id });
    await eraseAuthor(t.rt, t.config.PARLEY_SECRET, siteId, 'erase.me@example.test', 'user:test');
    const page = (await thread(siteId, 'erased')).body!;
    expect(page.article.commentCount).toBe(1);
    expect(page.comments).toEqual([
      expect.objectContaining({
        id: erased.id,
        deleted: true,
        authorName: '',
        body: '',
        replies: [expect.objectContaining({ id: reply.id, authorName: 'Stays' })],
      }),
    ]);
  });

  it('pages through tombstones like any other top-level comment', async () => {
    const siteId = await t.site();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const root = await published(siteId, 'pages', { authorName: `R${i}` });
      await published(siteId, 'pages', { authorName: `A${i}`, parentId: root.id });
      if (i === 1) await expectWithdrawn(siteId, root);
      ids.push(root.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.request(
        'GET',
        `/api/v1/sites/${siteId}/articles/pages/comments?order=oldest&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      const body = (await res.json()) as Thread & { nextCursor: string | null };
      seen.push(...body.comments.map((c) => c.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids);
  });
});
