/**
 * A reader edits their own comment with the author token of its submission: within the site's
 * window, while nobody's reply is left, from pending, held or published; the new text goes back
 * through the real moderate worker, the old one is kept for moderators, a moderator who read the
 * old text cannot decide the new one blind, and every way of not proving authorship is one 404.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorToken } from '../../src/lib/crypto';
import { uuidv7 } from '../../src/lib/ids';
import { defaultRules } from '../../src/moderation/rules';
import type { Rule } from '../../src/moderation/types';
import { moderateJobId } from '../../src/queue';
import { loadCommentSnapshot } from '../../src/repositories/webhooks';
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
  waitFor,
} from '../helpers/context';
import { as, signedIn } from '../helpers/workspace';

// `live` runs the real workers; `manual` has none, for the tests that run the moderate processor
// themselves at the moment they need to (its comments are published to its own queue prefix, so
// the live workers never see them).
let live: TestContext;
let manual: TestContext;
beforeAll(async () => {
  [live, manual] = await Promise.all([createTestContext({ workers: true }), createTestContext()]);
});
afterAll(async () => {
  await Promise.all([live?.close(), manual?.close()]);
});

interface Accepted {
  id: string;
  status: string;
  authorToken: string;
  editableUntil: string | null;
}
interface Problem {
  code: string;
  status: number;
}
interface ThreadComment {
  id: string;
  body: string;
  editedAt: string | null;
  replies: ThreadComment[];
}
interface Thread {
  article: { commentCount: number };
  comments: ThreadComment[];
}

async function post(t: TestContext, siteId: string, article: string, extra: Record<string, unknown> = {}) {
  const res = await t.submit(siteId, article, { authorName: 'Ada', body: benignText(), ...extra });
  expect(res.status).toBe(202);
  return (await res.json()) as Accepted;
}

const row = (t: TestContext, id: string) =>
  t.rt.db.selectFrom('comments').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const decisions = (t: TestContext, id: string) =>
  t.rt.db.selectFrom('moderation_decisions').selectAll().where('comment_id', '=', id).orderBy('id').execute();
const revisions = (t: TestContext, id: string) =>
  t.rt.db
    .selectFrom('comment_revisions')
    .selectAll()
    .where('comment_id', '=', id)
    .orderBy('revision')
    .execute();
const outbox = outboxRows;

/** The live worker's decision on a revision of the comment's text. */
const decided = (id: string, revision = 0) =>
  waitFor(
    async () => (await decisions(live, id)).find((d) => d.actor_type === 'system' && d.revision === revision),
    `the worker's decision on revision ${revision} of ${id}`,
  );

async function published(siteId: string, article: string, extra: Record<string, unknown> = {}) {
  const a = await post(live, siteId, article, extra);
  expect((await decided(a.id)).to_status).toBe('published');
  return a;
}

const edit = (
  t: TestContext,
  siteId: string,
  id: string,
  body: unknown,
  headers: Record<string, string> = {},
) =>
  t.request('POST', `/api/v1/sites/${siteId}/comments/${id}/edit`, body, { origin: TEST_ORIGIN, ...headers });

async function expectEdited(t: TestContext, siteId: string, a: Accepted, body: string) {
  const res = await edit(t, siteId, a.id, { authorToken: a.authorToken, body });
  expect(res.status).toBe(200);
  const out = (await res.json()) as { id: string; status: string; changed: boolean; editedAt: string };
  expect(out).toMatchObject({ id: a.id, status: 'pending', changed: true, editableUntil: a.editableUntil });
  expect(Date.parse(out.editedAt)).not.toBeNaN();
  return out;
}

async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(((await res.json()) as Problem).code).toBe(code);
}

const thread = (t: TestContext, siteId: string, article: string, headers: Record<string, string> = {}) =>
  threadPage<Thread>(t, siteId, article, headers);

describe('the API', () => {
  it('documents the edit route, its answers, editableUntil, editedAt and the comment.edited event', async () => {
    const doc = (await (await live.request('GET', '/openapi.json')).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
    };
    const route = doc.paths['/api/v1/sites/{siteId}/comments/{commentId}/edit']?.post;
    expect(Object.keys(route?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '403', '404', '409', '415', '422', '429']),
    );
    expect(doc.components.schemas.CommentAccepted?.required).toContain('editableUntil');
    expect(doc.components.schemas.PublicComment?.required).toContain('editedAt');
    expect(doc.components.schemas.CommentEditRequest?.required).toEqual(expect.arrayContaining(['body']));
    expect(JSON.stringify(doc.components.schemas.WebhookEventType)).toContain('comment.edited');
  });

  it("gives the window in the 202: the site's editWindowSeconds after posting, null when editing is off", async () => {
    const siteId = await live.site();
    const before = Date.now();
    const a = await post(live, siteId, 'window');
    const c = await row(live, a.id);
    expect(Date.parse(a.editableUntil!)).toBe(c.created_at.getTime() + 600_000);
    expect(Date.parse(a.editableUntil!)).toBeGreaterThanOrEqual(before + 600_000);
    const off = await live.site({ editWindowSeconds: 0 });
    expect((await post(live, off, 'window')).editableUntil).toBeNull();
  });
});

describe('editing a published comment', () => {
  it('takes it off the thread, keeps the old text for moderators, and the worker publishes the new text', async () => {
    const siteId = await live.site();
    const keep = await published(siteId, 'happy');
    const a = await published(siteId, 'happy');
    const old = (await row(live, a.id)).body;
    const before = await thread(live, siteId, 'happy');
    expect(before.body?.article.commentCount).toBe(2);
    expect(before.body?.comments.find((c) => c.id === a.id)?.editedAt).toBeNull();
    const etag = before.res.headers.get('etag')!;

    const text = 'The piece on the lighthouse keepers was careful, and the photographs were lovely.';
    const out = await expectEdited(live, siteId, a, text);
    // The worker decides the new text through the normal pipeline: a benign text is published again.
    expect((await decided(a.id, 1)).to_status).toBe('published');

    const c = await row(live, a.id);
    expect(c).toMatchObject({ status: 'published', body: text, revision: 1 });
    expect(c.edited_at?.toISOString()).toBe(out.editedAt);
    expect(c.simhash).not.toBe((await row(live, keep.id)).simhash);
    const after = await thread(live, siteId, 'happy', { 'if-none-match': etag });
    expect(after.res.status).toBe(200);
    expect(after.body?.article.commentCount).toBe(2);
    const shown = after.body?.comments.find((x) => x.id === a.id);
    expect(shown).toMatchObject({ body: text, editedAt: out.editedAt });
    expect(JSON.stringify(after.body)).not.toContain(old);

    // The old text, for moderators only; the audit and the announcements, once each.
    expect((await revisions(live, a.id)).map((r) => [r.revision, r.body])).toEqual([[0, old]]);
    expect(
      (await decisions(live, a.id)).map((d) => [
        d.actor_type,
        d.action,
        d.from_status,
        d.to_status,
        d.revision,
      ]),
    ).toEqual([
      ['system', 'publish', 'pending', 'published', 0],
      ['author', 'edit', 'published', 'pending', 1],
      ['system', 'publish', 'pending', 'published', 1],
    ]);
    expect((await decisions(live, a.id))[1]).toMatchObject({ actor_id: null, reason_code: 'edited' });
    const edited = await outbox(live, a.id, 'comment.edited');
    expect(edited).toHaveLength(1);
    expect(edited[0]!.payload).toEqual({
      articleId: c.article_id,
      actor: 'author',
      reasonCode: 'edited',
      fromStatus: 'published',
      revision: 1,
    });
    expect((await outbox(live, a.id, 'comment.published')).length).toBe(2);
    // Its own job: the first one's id still exists in the queue and would have been ignored.
    const job = await live.rt.queues.moderate.getJob(moderateJobId(a.id, 1));
    expect(job?.data).toMatchObject({ commentId: a.id });
    expect(job?.id).not.toBe(moderateJobId(a.id));

    // The webhook a publisher receives: valid against the published schema, with the new text.
    const event = buildEventBody(edited[0]!, await loadCommentSnapshot(live.rt.db, a.id));
    expect(eventSchemas['comment.edited']!.safeParse(event).success).toBe(true);
    expect(event).toMatchObject({
      type: 'comment.edited',
      data: { id: a.id, status: 'pending', actor: 'author', reasonCode: 'edited', body: text },
    });
  });

  it('an abusive edit is decided like a new comment and leaves the thread and its count', async () => {
    const siteId = await live.site({ words: { banned: ['scoundrel'], suspect: ['nincompoop'] } });
    const held = await published(siteId, 'abusive');
    const rejected = await published(siteId, 'abusive');
    expect((await thread(live, siteId, 'abusive')).body?.article.commentCount).toBe(2);

    await expectEdited(live, siteId, held, 'The harbour master is a nincompoop and everyone knows it.');
    await expectEdited(live, siteId, rejected, 'Whoever wrote this piece is a scoundrel.');
    expect(await decided(held.id, 1)).toMatchObject({ to_status: 'held', reason_code: 'suspect_word' });
    expect(await decided(rejected.id, 1)).toMatchObject({
      to_status: 'rejected',
      reason_code: 'banned_word',
    });

    const page = (await thread(live, siteId, 'abusive')).body!;
    expect(page.article.commentCount).toBe(0);
    expect(page.comments).toEqual([]);
    const counts = await live.request('GET', `/api/v1/sites/${siteId}/counts?article=abusive`);
    expect(await counts.json()).toEqual({ counts: { abusive: 0 } });
    const status = async (id: string) =>
      (
        (await (await live.request('GET', `/api/v1/sites/${siteId}/comments/${id}`)).json()) as {
          status: string;
        }
      ).status;
    expect(await status(held.id)).toBe('pending');
    expect(await status(rejected.id)).toBe('rejected');

    // A rejected comment is not edited back into the queue.
    await expectProblem(
      await edit(live, siteId, rejected.id, {
        authorToken: rejected.authorToken,
        body: 'Sorry, I take it back.',
      }),
      409,
      'not_editable',
    );
    // A held one may still be fixed, and is moderated again.
    await expectEdited(live, siteId, held, 'The harbour master has had a difficult year, to be fair.');
    expect((await decided(held.id, 2)).to_status).toBe('published');
    expect((await thread(live, siteId, 'abusive')).body?.article.commentCount).toBe(1);
  });

  it('counts reader reports afresh: those filed before the edit were about the old text', async () => {
    const siteId = await live.site();
    const a = await published(siteId, 'reports');
    const report = (n: number) =>
      live.request(
        'POST',
        `/api/v1/sites/${siteId}/comments/${a.id}/reports`,
        { reason: 'abuse', readerToken: `reader-${n}-${a.id.slice(0, 8)}` },
        { origin: TEST_ORIGIN },
      );
    // The three reports the default threshold needs: the comment is in the reported queue.
    for (const n of [1, 2, 3]) expect((await report(n)).status).toBe(202);
    expect((await row(live, a.id)).reported_at).toBeInstanceOf(Date);
    await expectEdited(live, siteId, a, 'A calmer version of what I said about the harbour.');
    expect((await row(live, a.id)).reported_at).toBeNull();
    expect((await decided(a.id, 1)).to_status).toBe('published');
    expect((await report(4)).status).toBe(202);
    expect((await row(live, a.id)).reported_at).toBeNull();
    // Three readers of the new text are needed, as for any comment.
    for (const n of [5, 6]) expect((await report(n)).status).toBe(202);
    expect((await row(live, a.id)).reported_at).toBeInstanceOf(Date);
  });

  it('the same text again answers 200 and changes nothing', async () => {
    const siteId = await live.site();
    const a = await published(siteId, 'same');
    const before = await thread(live, siteId, 'same');
    const c = await row(live, a.id);
    const res = await edit(live, siteId, a.id, { authorToken: a.authorToken, body: c.body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: a.id,
      status: 'published',
      editedAt: null,
      editableUntil: a.editableUntil,
      changed: false,
    });
    expect(await row(live, a.id)).toEqual(c);
    expect(await revisions(live, a.id)).toEqual([]);
    expect((await decisions(live, a.id)).map((d) => d.actor_type)).toEqual(['system']);
    expect(await outbox(live, a.id, 'comment.edited')).toEqual([]);
    const after = await thread(live, siteId, 'same', { 'if-none-match': before.res.headers.get('etag')! });
    expect(after.res.status).toBe(304);
  });
});

describe('what cannot be edited', () => {
  it('after the window, or at all on a site that turned editing off', async () => {
    const siteId = await live.site({ editWindowSeconds: 60 });
    const a = await published(siteId, 'late');
    // Posted 61 seconds ago.
    await live.rt.db
      .updateTable('comments')
      .set({ created_at: new Date(Date.now() - 61_000) })
      .where('id', '=', a.id)
      .execute();
    const res = await edit(live, siteId, a.id, {
      authorToken: a.authorToken,
      body: 'Too late to fix it now.',
    });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ code: 'edit_window_closed', editableUntil: expect.any(String) });
    // The same text is still fine: nothing to do.
    const same = await edit(live, siteId, a.id, {
      authorToken: a.authorToken,
      body: (await row(live, a.id)).body,
    });
    expect(same.status).toBe(200);

    // The window's last millisecond is inside it.
    const edge = await published(siteId, 'edge');
    const posted = new Date(Date.now() - 30_000);
    await live.rt.db.updateTable('comments').set({ created_at: posted }).where('id', '=', edge.id).execute();
    const realNow = live.deps.now;
    live.deps.now = () => new Date(posted.getTime() + 60_000);
    try {
      expect(
        (await edit(live, siteId, edge.id, { authorToken: edge.authorToken, body: 'Just in time.' })).status,
      ).toBe(200);
    } finally {
      live.deps.now = realNow;
    }

    const off = await live.site({ editWindowSeconds: 0 });
    const b = await published(off, 'off');
    await expectProblem(
      await edit(live, off, b.id, { authorToken: b.authorToken, body: 'A fresh new text.' }),
      409,
      'edit_window_closed',
    );
    for (const id of [a.id, b.id]) {
      expect((await row(live, id)).status).toBe('published');
      expect(await revisions(live, id)).toEqual([]);
      expect(await outbox(live, id, 'comment.edited')).toEqual([]);
    }
  });

  it('once someone replied, until every reply is deleted', async () => {
    const siteId = await live.site();
    const root = await published(siteId, 'replied');
    const reply = await published(siteId, 'replied', { authorName: 'Bo', parentId: root.id });
    const fix = { authorToken: root.authorToken, body: 'What I meant to say was something else entirely.' };
    await expectProblem(await edit(live, siteId, root.id, fix), 409, 'has_replies');
    // A reply still waiting for moderation is an answer too.
    const res = await live.request(
      'POST',
      `/api/v1/sites/${siteId}/comments/${reply.id}/withdraw`,
      { authorToken: reply.authorToken },
      { origin: TEST_ORIGIN },
    );
    expect(res.status).toBe(200);
    const pendingReply = await post(manual, siteId, 'replied', { authorName: 'Cy', parentId: root.id });
    await expectProblem(await edit(live, siteId, root.id, fix), 409, 'has_replies');
    expect((await row(live, root.id)).status).toBe('published');
    await manual.request(
      'POST',
      `/api/v1/sites/${siteId}/comments/${pendingReply.id}/withdraw`,
      { authorToken: pendingReply.authorToken },
      { origin: TEST_ORIGIN },
    );
    // Only deleted replies are left: nobody's answer is changed under them.
    await expectEdited(live, siteId, root, fix.body);
    expect((await decided(root.id, 1)).to_status).toBe('published');
  });

  it('a reply racing an edit of its parent is refused, not stored under a text nobody answered', async () => {
    const siteId = await live.site();
    const root = await published(siteId, 'race');
    // The edit's transaction as author-actions runs it: the row locked FOR UPDATE and sent back to
    // pending, and held open while a reply comes in (which saw the parent still published).
    let release!: () => void;
    let locked!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const isLocked = new Promise<void>((r) => (locked = r));
    const editing = live.rt.db.transaction().execute(async (trx) => {
      await trx.selectFrom('comments').select('id').where('id', '=', root.id).forUpdate().execute();
      await trx.updateTable('comments').set({ status: 'pending' }).where('id', '=', root.id).execute();
      locked();
      await gate;
    });
    await isLocked;
    const reply = live.submit(siteId, 'race', { authorName: 'Bo', body: benignText(), parentId: root.id });
    // Until the reply's insert is waiting on the parent's row lock.
    await waitFor(async () => {
      const r = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
        where datname = current_database() and wait_event_type = 'Lock'`.execute(live.rt.db);
      return r.rows[0]!.n > 0;
    }, 'the reply waiting on the parent row lock');
    release();
    await editing;
    await expectProblem(await reply, 422, 'invalid_parent');
    const under = await live.rt.db
      .selectFrom('comments')
      .select('id')
      .where('parent_id', '=', root.id)
      .execute();
    expect(under).toEqual([]);
  });

  it('once deleted, or rejected by a moderator', async () => {
    const siteId = await live.site({ premoderate: true });
    const mod = as(live, await signedIn(live, { [siteId]: 'moderator' }));
    const a = await post(live, siteId, 'gone');
    const b = await post(live, siteId, 'gone');
    await decided(a.id);
    await decided(b.id);
    expect(
      (
        await mod('POST', `/api/v1/moderation/sites/${siteId}/comments/${a.id}/reject`, {
          reasonCode: 'spam',
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await live.request(
          'POST',
          `/api/v1/sites/${siteId}/comments/${b.id}/withdraw`,
          { authorToken: b.authorToken },
          { origin: TEST_ORIGIN },
        )
      ).status,
    ).toBe(200);
    for (const x of [a, b]) {
      await expectProblem(
        await edit(live, siteId, x.id, { authorToken: x.authorToken, body: 'Let me try that again.' }),
        409,
        'not_editable',
      );
      expect(await revisions(live, x.id)).toEqual([]);
    }
  });
});

describe('refusals', () => {
  it('answers 404 problem+json for every way of not proving authorship, and changes nothing', async () => {
    const siteId = await manual.site();
    const otherSite = await manual.site();
    const a = await post(manual, siteId, 'refusals');
    const b = await post(manual, siteId, 'refusals');
    const unknown = uuidv7();
    const secret = manual.config.PARLEY_SECRET;
    const body = 'A text the author did not write.';
    const notFound = async (res: Response) => expectProblem(res, 404, 'not_found');

    await notFound(await edit(manual, siteId, a.id, { authorToken: 'not-the-token', body }));
    await notFound(await edit(manual, siteId, a.id, { authorToken: a.authorToken.slice(0, -1), body }));
    await notFound(await edit(manual, siteId, a.id, { authorToken: b.authorToken, body }));
    await notFound(await edit(manual, siteId, a.id, { body }));
    await notFound(await edit(manual, siteId, a.id, { authorToken: '', body }));
    await notFound(await edit(manual, otherSite, a.id, { authorToken: a.authorToken, body }));
    await notFound(await edit(manual, siteId, unknown, { authorToken: authorToken(secret, unknown), body }));
    for (const id of [
      'not-a-uuid',
      '123',
      `${a.id}x`,
      '%00',
      'constructor',
      encodeURIComponent("' or 1=1 --"),
    ]) {
      await notFound(await edit(manual, siteId, id, { authorToken: authorToken(secret, id), body }));
    }
    await notFound(await edit(manual, 'no-such-site', a.id, { authorToken: a.authorToken, body }));

    // The body is checked exactly as a submission's is.
    for (const bad of [
      '',
      '   \n ',
      'x'.repeat(manual.config.COMMENT_MAX_CHARS + 1),
      'nul \u0000 here',
      42,
    ]) {
      const res = await edit(manual, siteId, a.id, { authorToken: a.authorToken, body: bad });
      expect(res.status).toBe(422);
      const p = (await res.json()) as Problem & { errors: Array<{ path: string }> };
      expect(p.code).toBe('validation_failed');
      expect(p.errors.map((e) => e.path)).toContain('body');
    }
    await expectProblem(
      await manual.request('POST', `/api/v1/sites/${siteId}/comments/${a.id}/edit`, undefined, {
        origin: TEST_ORIGIN,
        'content-type': 'application/x-www-form-urlencoded',
      }),
      415,
      'unsupported_media_type',
    );
    expect((await edit(manual, siteId, a.id, '{"authorToken":')).status).toBe(400);
    await expectProblem(
      await edit(
        manual,
        siteId,
        a.id,
        { authorToken: a.authorToken, body },
        { origin: 'https://evil.example' },
      ),
      403,
      'origin_not_allowed',
    );
    const preflight = await corsPreflight(manual, `/api/v1/sites/${siteId}/comments/${a.id}/edit`);
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(TEST_ORIGIN);

    for (const x of [a, b]) {
      expect(await row(manual, x.id)).toMatchObject({ status: 'pending', revision: 0, edited_at: null });
      expect(await revisions(manual, x.id)).toEqual([]);
      expect(await outbox(manual, x.id, 'comment.edited')).toEqual([]);
      expect(await decisions(manual, x.id)).toEqual([]);
    }
    expect((await row(manual, a.id)).body).not.toBe(body);
  });
});

describe('moderators', () => {
  it('see that it was edited and every earlier text, and cannot decide the new text on the old one', async () => {
    const siteId = await live.site({ premoderate: true });
    const mod = as(live, await signedIn(live, { [siteId]: 'moderator' }));
    const base = `/api/v1/moderation/sites/${siteId}`;
    const a = await post(live, siteId, 'stale');
    const first = (await row(live, a.id)).body;
    expect((await decided(a.id)).to_status).toBe('held');
    // The moderator opens it (and so claims it) and reads the first text.
    expect((await mod('POST', `${base}/comments/${a.id}/claim`)).status).toBe(200);
    const seen = (await (await mod('GET', `${base}/comments/${a.id}`)).json()) as {
      revision: number;
      editedAt: string | null;
      revisions: unknown[];
    };
    expect(seen).toMatchObject({ revision: 0, editedAt: null, revisions: [] });

    // Meanwhile its author rewrites it, with markup a page must show as text.
    const text = 'On reflection: <b>the footpath</b> matters more than the lamp.';
    await expectEdited(live, siteId, a, text);
    const c = await row(live, a.id);
    expect(c.claimed_by).toBeNull();
    expect(c.claim_expires_at).toBeNull();

    // The decision they made on the first text is refused, before and after the worker holds it again.
    const stale = async () => {
      for (const [path, body] of [
        ['approve', { expectedRevision: 0 }],
        ['reject', { reasonCode: 'spam', expectedRevision: 0 }],
      ] as const) {
        await expectProblem(
          await mod('POST', `${base}/comments/${a.id}/${path}`, body),
          409,
          'comment_edited',
        );
      }
      const bulk = (await (
        await mod('POST', `${base}/bulk`, {
          action: 'approve',
          ids: [a.id],
          expectedRevisions: { [a.id]: 0 },
        })
      ).json()) as { results: Array<{ ok: boolean; code?: string }> };
      expect(bulk.results).toEqual([expect.objectContaining({ ok: false, code: 'comment_edited' })]);
    };
    await stale();
    expect((await decided(a.id, 1)).to_status).toBe('held');
    await stale();
    expect((await row(live, a.id)).status).toBe('held');

    // What they see now: edited, when, the earlier text, and the author's edit in the audit.
    const item = (await (await mod('GET', `${base}/comments/${a.id}`)).json()) as {
      body: string;
      revision: number;
      editedAt: string;
      revisions: Array<{ revision: number; body: string; createdAt: string; replacedAt: string }>;
      decisions: Array<{ actorType: string; action: string; revision: number }>;
    };
    expect(item).toMatchObject({ body: text, revision: 1, editedAt: c.edited_at!.toISOString() });
    expect(item.revisions).toEqual([
      {
        revision: 0,
        body: first,
        createdAt: c.created_at.toISOString(),
        replacedAt: c.edited_at!.toISOString(),
      },
    ]);
    expect(item.decisions.map((d) => [d.actorType, d.action, d.revision])).toEqual([
      ['system', 'hold', 0],
      ['author', 'edit', 1],
      ['system', 'hold', 1],
    ]);
    const held = (await (await mod('GET', `${base}/queues/held`)).json()) as { items: Array<{ id: string }> };
    expect(held.items.map((i) => i.id)).toEqual([a.id]);

    // A client that sends no revision cannot approve an edited text it may not have read.
    await expectProblem(await mod('POST', `${base}/comments/${a.id}/approve`, {}), 409, 'comment_edited');
    const blind = (await (await mod('POST', `${base}/bulk`, { action: 'approve', ids: [a.id] })).json()) as {
      results: Array<{ ok: boolean; code?: string }>;
    };
    expect(blind.results).toEqual([expect.objectContaining({ ok: false, code: 'comment_edited' })]);
    expect((await row(live, a.id)).status).toBe('held');

    // Having read the new text, they decide it.
    expect((await mod('POST', `${base}/comments/${a.id}/approve`, { expectedRevision: 1 })).status).toBe(200);
    const page = (await thread(live, siteId, 'stale')).body!;
    expect(page.comments.map((x) => [x.body, x.editedAt])).toEqual([[text, c.edited_at!.toISOString()]]);
  });

  it('lose the earlier texts with the comment when its author deletes it', async () => {
    const siteId = await live.site();
    const a = await published(siteId, 'erase');
    await expectEdited(live, siteId, a, 'A second thought about the ferry timetable.');
    expect(await revisions(live, a.id)).toHaveLength(1);
    const res = await live.request(
      'POST',
      `/api/v1/sites/${siteId}/comments/${a.id}/withdraw`,
      { authorToken: a.authorToken },
      { origin: TEST_ORIGIN },
    );
    expect(res.status).toBe(200);
    expect(await revisions(live, a.id)).toEqual([]);
    expect((await row(live, a.id)).body).toBe('');
  });
});

describe('the moderate worker', () => {
  const processor = (rules: readonly Rule[] = defaultRules) => moderateProcessor(manual, rules);

  it('does not let a decision on the old text stand for an edit made while it ran', async () => {
    const siteId = await manual.site();
    const a = await post(manual, siteId, 'race');
    const text = 'The ferry timetable changes in March, which the piece did not mention.';
    // A rule that takes its time, during which the author edits the still-pending comment.
    const slow: Rule = {
      id: 'author-edits-meanwhile',
      async run() {
        await expectEdited(manual, siteId, a, text);
        return null;
      },
    };
    expect(await processor([slow])({ data: { commentId: a.id } })).toEqual({
      state: 'skipped',
      reason: 'lost_race',
    });
    expect(await row(manual, a.id)).toMatchObject({ status: 'pending', revision: 1, body: text });
    expect((await decisions(manual, a.id)).map((d) => d.actor_type)).toEqual(['author']);
    // The edit's own job decides the new text, once.
    expect(await processor()({ data: { commentId: a.id } })).toEqual({
      state: 'decided',
      outcome: 'publish',
    });
    expect(await processor()({ data: { commentId: a.id } })).toEqual({
      state: 'skipped',
      reason: 'already_decided',
    });
    expect((await decisions(manual, a.id)).map((d) => `${d.actor_type}:${d.action}:${d.revision}`)).toEqual([
      'author:edit:1',
      'system:publish:1',
    ]);
  });

  it('does not take an edit for a copy of itself, and still holds a copy of someone else', async () => {
    const siteId = await manual.site();
    const original = 'Keeping the lighthouse lit costs less than one streetlight on the promenade.';
    const a = await post(manual, siteId, 'dups', { body: original });
    expect(await processor()({ data: { commentId: a.id } })).toEqual({
      state: 'decided',
      outcome: 'publish',
    });
    // Its author fixes a typo: nearly the same text as its own first version, which is no copy.
    const fixed = original.replace('costs less', 'cost less');
    await expectEdited(manual, siteId, a, fixed);
    expect(await processor()({ data: { commentId: a.id } })).toEqual({
      state: 'decided',
      outcome: 'publish',
    });

    // Another reader edits their comment into a copy of it: held as a duplicate, as a new one would be.
    const b = await post(manual, siteId, 'dups', { authorName: 'Bo' });
    expect(await processor()({ data: { commentId: b.id } })).toEqual({
      state: 'decided',
      outcome: 'publish',
    });
    await expectEdited(manual, siteId, b, fixed);
    expect(await processor()({ data: { commentId: b.id } })).toEqual({ state: 'decided', outcome: 'hold' });
    const held = (await decisions(manual, b.id)).at(-1)!;
    expect(held).toMatchObject({ actor_type: 'system', revision: 1, reason_code: 'duplicate' });
  });
});
