import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../db/database';
import type { NewComment } from '../../db/schema';
import { createTestContext, type TestContext } from '../../test/helpers/context';
import { uuidv7 } from '../lib/ids';
import { ensureArticles } from './articles';
import { findStalePending, insertComments, insertCommentsAnnounced } from './comments';
import { recordSystemDecisions } from './decisions';

let t: TestContext;
let siteId: string;
let articleId: string;

beforeAll(async () => {
  t = await createTestContext();
  siteId = await t.site();
  const arts = await ensureArticles(t.rt.db, [{ siteId, externalId: 'insert-test' }]);
  articleId = [...arts.values()][0]!.id;
});
afterAll(async () => {
  await t?.close();
});

function row(body: string, extra: Partial<NewComment> = {}): NewComment {
  const now = new Date();
  return {
    id: uuidv7(),
    site_id: siteId,
    article_id: articleId,
    parent_id: null,
    root_id: null,
    author_name: 'Ada',
    author_email: null,
    email_hash: null,
    body,
    status: 'pending',
    ip_hash: null,
    user_agent: null,
    referrer: null,
    signals: JSON.stringify({ formToken: 'ok', formAgeMs: 1234 }),
    idempotency_key: null,
    request_id: null,
    created_at: now,
    updated_at: now,
    ...extra,
  };
}

/** A ban on this file's site. */
function ban(kind: 'email' | 'ip', value: string) {
  return { id: uuidv7(), site_id: siteId, kind, value_hash: value, created_by: 'test' };
}

describe('insertComments (one unnest statement per batch)', () => {
  it('stores every column exactly, including text that array literals must escape', async () => {
    const awkward = [
      'NULL',
      'a "quoted" {brace}, comma',
      'back\\slash\\',
      '',
      ' ',
      'naïve – 日本語 🎉',
      'line\nbreak\ttab',
    ];
    const rows = awkward.map((b, i) =>
      row(b, {
        author_email: i % 2 ? `a${i}@example.com` : null,
        user_agent: i % 3 ? null : 'Mozilla/5.0 "x"',
        request_id: `req-${i}`,
      }),
    );
    const inserted = await insertComments(t.rt.db, rows);
    expect(inserted.size).toBe(rows.length);
    const stored = await t.rt.db
      .selectFrom('comments')
      .selectAll()
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    const byId = new Map(stored.map((s) => [s.id, s]));
    for (const r of rows) {
      const s = byId.get(r.id)!;
      expect(s.body).toBe(r.body);
      expect(s.author_email).toBe(r.author_email);
      expect(s.user_agent).toBe(r.user_agent);
      expect(s.request_id).toBe(r.request_id);
      expect(s.signals).toEqual({ formToken: 'ok', formAgeMs: 1234 });
      expect(s.created_at.getTime()).toBe((r.created_at as Date).getTime());
      expect(s.status).toBe('pending');
    }
  });

  it('skips rows whose Idempotency-Key was used before and reports only the rows it inserted', async () => {
    const first = row('first', { idempotency_key: 'same-key-123' });
    expect(await insertComments(t.rt.db, [first])).toEqual(new Set([first.id]));
    const again = row('again', { idempotency_key: 'same-key-123' });
    const other = row('other', { idempotency_key: 'other-key-123' });
    expect(await insertComments(t.rt.db, [again, other])).toEqual(new Set([other.id]));
  });

  it('round-trips any printable text', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'grapheme', maxLength: 40 }), { minLength: 1, maxLength: 8 }),
        async (bodies) => {
          const clean = bodies.map((b) => b.replace(/\u0000/g, ''));
          const rows = clean.map((b) => row(b));
          await insertComments(t.rt.db, rows);
          const stored = await t.rt.db
            .selectFrom('comments')
            .select(['id', 'body'])
            .where(
              'id',
              'in',
              rows.map((r) => r.id),
            )
            .execute();
          const byId = new Map(stored.map((s) => [s.id, s.body]));
          for (const r of rows) expect(byId.get(r.id)).toBe(r.body);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('falls back to a VALUES insert when rows leave out different columns, so defaults still apply', async () => {
    const full = row('full');
    const { signals: _omit, ...partial } = row('partial');
    const inserted = await insertComments(t.rt.db, [full, partial as NewComment]);
    expect(inserted.size).toBe(2);
    const s = await t.rt.db
      .selectFrom('comments')
      .select('signals')
      .where('id', '=', partial.id)
      .executeTakeFirstOrThrow();
    expect(s.signals).toEqual({});
  });
});

const countBatches = async () =>
  Number(
    (
      await t.rt.db
        .selectFrom('outbox_batches')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

describe('insertCommentsAnnounced (comments and their outbox rows in one statement)', () => {
  it('writes one outbox row per inserted comment and none for a repeated Idempotency-Key', async () => {
    const first = row('announced first', { idempotency_key: 'announce-key-1', request_id: 'req-a' });
    const a = await insertCommentsAnnounced(t.rt.db, [first], 'comment.submitted');
    expect(a.inserted).toEqual(new Set([first.id]));
    expect(a.outbox).toHaveLength(1);
    expect(a.outbox[0]).toMatchObject({
      topic: 'comment.submitted',
      site_id: siteId,
      comment_id: first.id,
      request_id: 'req-a',
      payload: { articleId, parentId: null },
      published_at: null,
    });
    const again = row('announced again', { idempotency_key: 'announce-key-1' });
    const fresh = row('announced fresh');
    const b = await insertCommentsAnnounced(t.rt.db, [again, fresh], 'comment.submitted');
    expect(b.inserted).toEqual(new Set([fresh.id]));
    expect(b.outbox.map((o) => o.comment_id)).toEqual([fresh.id]);
    const rows = await t.rt.db
      .selectFrom('outbox')
      .select('comment_id')
      .where('comment_id', 'in', [first.id, again.id, fresh.id])
      .execute();
    expect(rows.map((r) => r.comment_id).sort()).toEqual([first.id, fresh.id].sort());
  });

  it('records the rows of each statement as one publication batch, and none when it inserts nothing', async () => {
    const batches = () => t.rt.db.selectFrom('outbox_batches').selectAll().orderBy('id').execute();
    const before = (await batches()).length;
    const two = [row('batch one'), row('batch two')];
    const { outbox } = await insertCommentsAnnounced(t.rt.db, two, 'comment.submitted');
    const announced = outbox as Array<(typeof outbox)[number] & { batch_id: string | null }>;
    expect(announced.map((o) => o.comment_id)).toEqual(two.map((r) => r.id));
    expect(announced.every((o) => o.batched && o.batch_id === announced[0]!.batch_id)).toBe(true);
    const after = await batches();
    expect(after).toHaveLength(before + 1);
    expect(after.at(-1)).toMatchObject({
      id: announced[0]!.batch_id,
      outbox_ids: announced.map((o) => o.id),
    });
    // Only replays of a stored Idempotency-Key: no comment, no outbox row, no batch row.
    await insertCommentsAnnounced(
      t.rt.db,
      [row('keyed', { idempotency_key: 'batch-key' })],
      'comment.submitted',
    );
    const replay = row('batch replay', { idempotency_key: 'batch-key' });
    const none = await insertCommentsAnnounced(t.rt.db, [replay], 'comment.submitted');
    expect(none.outbox).toEqual([]);
    expect(await batches()).toHaveLength(before + 2);
  });

  it('writes nothing at all when the statement fails', async () => {
    const good = row('would be fine');
    const bad = row('points at no article', { article_id: uuidv7() });
    const batchesBefore = await countBatches();
    await expect(insertCommentsAnnounced(t.rt.db, [good, bad], 'comment.submitted')).rejects.toThrow();
    const left = await t.rt.db.selectFrom('comments').select('id').where('id', '=', good.id).execute();
    const outbox = await t.rt.db
      .selectFrom('outbox')
      .select('id')
      .where('comment_id', '=', good.id)
      .execute();
    expect(left).toEqual([]);
    expect(outbox).toEqual([]);
    expect(await countBatches()).toBe(batchesBefore);
  });

  it("refuses a comment whose site is not its article's site", async () => {
    const other = await t.site();
    const stray = row('wrong site for this article', { site_id: other });
    await expect(insertCommentsAnnounced(t.rt.db, [stray], 'comment.submitted')).rejects.toMatchObject({
      code: '23503',
    });
    const left = await t.rt.db.selectFrom('comments').select('id').where('id', '=', stray.id).execute();
    expect(left).toEqual([]);
  });

  it('rejects the banned authors of one multi-row insert, each once, and leaves the others pending', async () => {
    await t.rt.db
      .insertInto('bans')
      .values([
        ban('email', 'banned-email-hash'),
        ban('ip', 'banned-ip-hash'),
        // Revoked and expired bans hold nobody.
        { ...ban('email', 'revoked-email-hash'), revoked_at: new Date() },
        { ...ban('ip', 'expired-ip-hash'), expires_at: new Date(Date.now() - 60_000) },
      ])
      .execute();
    const byEmail = row('banned by email', { email_hash: 'banned-email-hash', request_id: 'req-ban-1' });
    // Both of this author's hashes are banned: still one decision and one outbox row.
    const byBoth = row('banned twice over', { email_hash: 'banned-email-hash', ip_hash: 'banned-ip-hash' });
    const clean = row('not banned', { email_hash: 'clean-hash', ip_hash: 'clean-ip' });
    const revoked = row('ban revoked', { email_hash: 'revoked-email-hash', ip_hash: 'expired-ip-hash' });
    const rows = [byEmail, clean, byBoth, revoked];
    const { inserted } = await insertCommentsAnnounced(t.rt.db, rows, 'comment.submitted');
    expect(inserted.size).toBe(4);
    const ids = rows.map((r) => r.id);
    const stored = await t.rt.db
      .selectFrom('comments')
      .select(['id', 'status'])
      .where('id', 'in', ids)
      .execute();
    expect(Object.fromEntries(stored.map((s) => [s.id, s.status]))).toEqual({
      [byEmail.id]: 'rejected',
      [byBoth.id]: 'rejected',
      [clean.id]: 'pending',
      [revoked.id]: 'pending',
    });
    const decisions = await t.rt.db
      .selectFrom('moderation_decisions')
      .select(['comment_id', 'actor_type', 'reason_code', 'to_status'])
      .where('comment_id', 'in', ids)
      .execute();
    expect(decisions.map((d) => d.comment_id).sort()).toEqual([byEmail.id, byBoth.id].sort());
    expect(decisions.every((d) => d.actor_type === 'system' && d.reason_code === 'banned')).toBe(true);
    const rejected = await t.rt.db
      .selectFrom('outbox')
      .select(['comment_id', 'request_id', 'payload'])
      .where('topic', '=', 'comment.rejected')
      .where('comment_id', 'in', ids)
      .execute();
    expect(rejected.map((o) => o.comment_id).sort()).toEqual([byEmail.id, byBoth.id].sort());
    expect(rejected.find((o) => o.comment_id === byEmail.id)).toMatchObject({
      request_id: 'req-ban-1',
      payload: { articleId, reasonCode: 'banned', actor: 'system' },
    });
  });
});

describe('the ban check on a large bans table', () => {
  it('probes the index per row, even on a connection whose first insert was large', async () => {
    // A plan PL/pgSQL keeps for the connection is made by its first statement. A join planned for
    // a large first batch read every ban (a hash join) in each later insert, however small.
    const crowd = await t.site();
    await sql`insert into bans (id, site_id, kind, value_hash, created_by)
      select gen_random_uuid(), ${crowd}, case when g % 2 = 0 then 'email' else 'ip' end,
             md5('crowd' || g), 'test'
      from generate_series(1, 20000) g`.execute(t.rt.db);
    await t.rt.db.insertInto('bans').values(ban('email', 'probe-banned')).execute();
    await sql`analyze bans`.execute(t.rt.db);
    // A connection of its own, so the check's plan is made here, by the large insert.
    const fresh = createDb({ url: t.rt.config.DATABASE_URL, poolMax: 1 });
    try {
      const banned = row('banned on a busy connection', { email_hash: 'probe-banned' });
      const scans = await fresh.transaction().execute(async (trx) => {
        const big = Array.from({ length: 2000 }, (_, i) => row(`crowd ${i}`, { email_hash: `h${i}` }));
        await insertCommentsAnnounced(trx, big, 'comment.submitted');
        await insertCommentsAnnounced(trx, [row('small one'), banned, row('small two')], 'comment.submitted');
        // This transaction's own counts, before commit.
        return (
          await sql<{ seq_scan: string }>`select seq_scan::text from pg_stat_xact_user_tables
            where relname = 'bans'`.execute(trx)
        ).rows[0];
      });
      expect(Number(scans?.seq_scan ?? 0)).toBe(0);
      const stored = await t.rt.db
        .selectFrom('comments')
        .select('status')
        .where('id', '=', banned.id)
        .executeTakeFirst();
      expect(stored?.status).toBe('rejected');
    } finally {
      await fresh.destroy();
    }
  });
});

describe('findStalePending (the sweep of comments whose job went missing)', () => {
  it('returns the oldest pending comments of all sites, merged in time order, up to the limit', async () => {
    const otherSite = await t.site();
    const other = [
      ...(await ensureArticles(t.rt.db, [{ siteId: otherSite, externalId: 'stale' }])).values(),
    ][0]!;
    // Long before anything else this file stores, so only these rows are older than the cutoff.
    const at = (s: number) => new Date(Date.UTC(2020, 0, 1, 0, 0, s));
    const here = (s: number, extra: Partial<NewComment> = {}) =>
      row(`stale ${s}`, { created_at: at(s), updated_at: at(s), ...extra });
    const there = (s: number) =>
      row(`stale ${s}`, { site_id: otherSite, article_id: other.id, created_at: at(s), updated_at: at(s) });
    const rows = [here(10), there(20), here(30), there(40), here(50)];
    const decided = here(5, { status: 'published', decided_at: at(6) });
    const recent = here(0, { created_at: new Date(Date.UTC(2020, 0, 3)) });
    await insertComments(t.rt.db, [...rows, decided, recent]);
    const cutoff = new Date(Date.UTC(2020, 0, 2));
    const ids = (found: Array<{ id: string }>) => found.map((r) => r.id);
    expect(ids(await findStalePending(t.rt.db, cutoff, 4))).toEqual(rows.slice(0, 4).map((r) => r.id));
    // Each site gives its oldest: a limit below one site's count still takes the oldest overall.
    expect(ids(await findStalePending(t.rt.db, cutoff, 2))).toEqual(rows.slice(0, 2).map((r) => r.id));
    expect(ids(await findStalePending(t.rt.db, cutoff, 100))).toEqual(rows.map((r) => r.id));
    expect(await findStalePending(t.rt.db, at(1), 100)).toEqual([]);
  });
});

describe('recordSystemDecisions (the worker write as one statement)', () => {
  it('decides only still-pending comments, with one audit row, one outbox row and a thread bump each', async () => {
    const [p1, p2, h1, gone] = ['publish me', 'publish me too', 'hold me', 'already decided'].map((b) =>
      row(b),
    );
    await insertComments(t.rt.db, [p1!, p2!, h1!, { ...gone!, status: 'rejected' }]);
    const before = await t.rt.db
      .selectFrom('articles')
      .select(['thread_version', 'published_count'])
      .where('id', '=', articleId)
      .executeTakeFirstOrThrow();
    // The audit keeps every verdict whole; the webhook payload, built by the statement, keeps the
    // ones that counted (no shadow verdicts), cut to five fields, in the same order.
    const reasons = [
      { rule: 'x', category: 'spam', code: 'y', score: 0.25, message: 'a "quoted" {reason} \u00e9\u2028' },
      { rule: 'links', category: 'spam', code: 'shortener', score: 1, message: 'm', shadow: true },
      {
        rule: 'classifier',
        category: 'toxicity',
        code: 'toxicity_classifier',
        score: 0.7734911163421287,
        message: 'The model gives this 77%.',
        action: 'hold',
        spans: [{ start: 1, end: 4 }],
      },
    ];
    const write = (id: string, to: 'published' | 'held') => ({
      commentId: id,
      to,
      action: to === 'published' ? 'publish' : 'hold',
      reasonCode: to === 'held' ? 'toxicity' : null,
      reasons,
      scores: { toxicity: 0.5 },
      policyVersion: 1,
      topic: to === 'published' ? 'comment.published' : 'comment.held',
    });
    const outbox = await recordSystemDecisions(t.rt.db, [
      write(p1!.id, 'published'),
      write(h1!.id, 'held'),
      write(gone!.id, 'published'),
      write(p2!.id, 'published'),
    ]);
    expect(outbox.map((o) => [o.comment_id, o.topic])).toEqual([
      [p1!.id, 'comment.published'],
      [h1!.id, 'comment.held'],
      [p2!.id, 'comment.published'],
    ]);
    // This site has no webhook endpoint, so its decisions need no fan-out job (fanoutJobsFor).
    expect(outbox.map((o) => o.fanout)).toEqual([false, false, false]);
    const statuses = await t.rt.db
      .selectFrom('comments')
      .select(['id', 'status', 'decided_at'])
      .where('id', 'in', [p1!.id, p2!.id, h1!.id, gone!.id])
      .execute();
    const byId = new Map(statuses.map((s) => [s.id, s]));
    expect(byId.get(p1!.id)?.status).toBe('published');
    expect(byId.get(h1!.id)?.status).toBe('held');
    expect(byId.get(gone!.id)?.status).toBe('rejected');
    expect(byId.get(gone!.id)?.decided_at).toBeNull();
    const audit = await t.rt.db
      .selectFrom('moderation_decisions')
      .select(['comment_id', 'actor_type', 'from_status', 'to_status', 'reasons', 'scores', 'reason_code'])
      .where('comment_id', 'in', [p1!.id, p2!.id, h1!.id, gone!.id])
      .execute();
    expect(audit).toHaveLength(3);
    expect(audit.find((a) => a.comment_id === h1!.id)).toMatchObject({
      actor_type: 'system',
      from_status: 'pending',
      to_status: 'held',
      reason_code: 'toxicity',
      reasons,
      scores: { toxicity: 0.5 },
    });
    expect(outbox.find((o) => o.comment_id === h1!.id)?.payload).toEqual({
      articleId,
      actor: 'system',
      reasonCode: 'toxicity',
      reasons: [
        { rule: 'x', category: 'spam', code: 'y', score: 0.25, message: 'a "quoted" {reason} \u00e9\u2028' },
        {
          rule: 'classifier',
          category: 'toxicity',
          code: 'toxicity_classifier',
          score: 0.7734911163421287,
          message: 'The model gives this 77%.',
        },
      ],
      policyVersion: 1,
    });
    expect(outbox.find((o) => o.comment_id === p1!.id)?.payload).toMatchObject({ reasonCode: null });
    const after = await t.rt.db
      .selectFrom('articles')
      .select(['thread_version', 'published_count'])
      .where('id', '=', articleId)
      .executeTakeFirstOrThrow();
    expect(Number(after.published_count)).toBe(Number(before.published_count) + 2);
    expect(Number(after.thread_version)).toBe(Number(before.thread_version) + 1);
    // A second run of the same jobs changes nothing.
    expect(await recordSystemDecisions(t.rt.db, [write(p1!.id, 'published')])).toEqual([]);
  });
});
