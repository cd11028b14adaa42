/**
 * The ingestor against the real database: one refused row must not cost the other submissions of
 * its batch (they share one statement, so without isolation they would share its failure).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../test/helpers/context';
import { AppError } from '../lib/errors';
import { refusedData } from './ingest';

let t: TestContext;

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await t?.close();
});

async function stored(siteId: string) {
  const rows = await t.rt.db.selectFrom('comments').select('body').where('site_id', '=', siteId).execute();
  return rows.map((r) => r.body).sort();
}

describe('ingest batches', () => {
  // Validation refuses a NUL (see comments.schemas.ts); these calls go around it, as a value no
  // validation foresaw would, to reach Postgres.
  const submission = (siteId: string, body: string, extra: Record<string, unknown> = {}) =>
    t.rt.ingest.submit({
      siteId,
      articleExternalId: 'isolation',
      authorName: 'Reader',
      body,
      signals: {},
      ...extra,
    });

  it('refuses only the row Postgres refuses; the rest of its batch is stored and answered', async () => {
    const siteId = await t.site();
    // Called in one tick, so they share a batch (and its one INSERT).
    const results = await Promise.allSettled([
      submission(siteId, 'First good comment about the harbour plan.'),
      submission(siteId, 'A body with a NUL \u0000 that Postgres text cannot hold.'),
      submission(siteId, 'Second good comment about the harbour plan.'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = (results[1] as PromiseRejectedResult).reason;
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ status: 422, code: 'unstorable_content' });
    expect(await stored(siteId)).toEqual([
      'First good comment about the harbour plan.',
      'Second good comment about the harbour plan.',
    ]);
    // Each stored comment has its outbox row, so it reaches the workers.
    const outbox = await t.rt.db
      .selectFrom('outbox')
      .select('comment_id')
      .where('topic', '=', 'comment.submitted')
      .where(
        'comment_id',
        'in',
        results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : [])),
      )
      .execute();
    expect(outbox).toHaveLength(2);
  });

  it('isolates a refused new article too (found or created before the comments)', async () => {
    const siteId = await t.site();
    const results = await Promise.allSettled([
      submission(siteId, 'A comment on a story seen for the first time.', { articleExternalId: 'fresh-1' }),
      submission(siteId, 'A comment whose article URL cannot be stored.', {
        articleExternalId: 'fresh-2',
        articleUrl: 'https://news.example/\u0000',
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'unstorable_content' });
    expect(await stored(siteId)).toEqual(['A comment on a story seen for the first time.']);
  });

  it('answers a repeated Idempotency-Key within one batch as the first, unless the comment differs', async () => {
    const siteId = await t.site();
    const parent = await submission(siteId, 'A published comment to answer.');
    await t.rt.db.updateTable('comments').set({ status: 'published' }).where('id', '=', parent.id).execute();
    const body = 'The same comment, sent twice by a retrying client.';
    const key = { idempotencyKey: 'batch-key-0001' };
    // Called in one tick, so they share a batch: the first is stored, each later one compared with it.
    const results = await Promise.allSettled([
      submission(siteId, body, key),
      submission(siteId, body, key),
      submission(siteId, 'Another text.', key),
      submission(siteId, body, { ...key, articleExternalId: 'another-article' }),
      submission(siteId, body, { ...key, parentId: parent.id }),
      submission(siteId, body, { ...key, authorName: 'Someone else' }),
      submission(siteId, body, { ...key, authorEmail: 'someone@example.org' }),
    ]);
    const [first, again, ...different] = results;
    expect(first).toMatchObject({ status: 'fulfilled', value: { replayed: false } });
    const firstId = (first as PromiseFulfilledResult<{ id: string }>).value.id;
    expect(again).toMatchObject({ status: 'fulfilled', value: { id: firstId, replayed: true } });
    for (const r of different) {
      expect(r).toMatchObject({
        status: 'rejected',
        reason: { status: 422, code: 'idempotency_key_reused' },
      });
    }
    expect(await stored(siteId)).toEqual(['A published comment to answer.', body]);
  });

  it('isolates only errors about the data; an unreachable or failing Postgres fails the batch as before', () => {
    const pg = (code: string) => Object.assign(new Error('from pg'), { code });
    for (const code of ['22021', '22001', '22P02', '23505', '23503', '54000']) {
      expect(refusedData(pg(code)), code).toBe(true);
    }
    for (const code of ['57P01', '08006', '53300', '40001', 'ECONNREFUSED', '2202']) {
      expect(refusedData(pg(code)), code).toBe(false);
    }
    expect(refusedData(new Error('no code'))).toBe(false);
    expect(refusedData(null)).toBe(false);
  });
});

describe('ingest linger (INGEST_LINGER_MS, INGEST_LINGER_BELOW)', () => {
  /**
   * Three submissions: the second 5 ms after the first, so both belong to one stream, and the
   * third 30 ms after the second. Returns, for each, when the statement that stored it began: the
   * outbox row's created_at is the statement's now(), the same for every row of one batch and
   * to the microsecond different for another. The second is sent once the first is answered, so
   * it never queues behind the first's statement (which would batch it with the third anyway).
   */
  async function threeSubmissions(env: Record<string, string>) {
    const ctx = await createTestContext({ env });
    try {
      const siteId = await ctx.site();
      const submit = (body: string) =>
        ctx.rt.ingest.submit({
          siteId,
          articleExternalId: 'linger',
          authorName: 'Reader',
          body,
          signals: {},
        });
      const first = await submit('The first comment of the evening on the harbour plan.');
      await sleep(5);
      const second = submit('A second comment, right behind the first one.');
      await sleep(30);
      const third = submit('A third comment, thirty milliseconds later.');
      const ids = [first.id, (await second).id, (await third).id];
      const rows = await ctx.rt.db
        .selectFrom('outbox')
        .select(['comment_id', sql<string>`created_at::text`.as('stamp')])
        .where('comment_id', 'in', ids)
        .execute();
      const stamp = new Map(rows.map((r) => [r.comment_id, r.stamp]));
      return ids.map((id) => stamp.get(id));
    } finally {
      await ctx.close();
    }
  }

  it('holds a small batch while submissions keep coming, so later ones join it', async () => {
    // The second came within the linger of the first (the first's answer plus 5 ms), so it
    // waits up to a second from its call, and the third joins it.
    const [first, second, third] = await threeSubmissions({
      INGEST_LINGER_MS: '1000',
      INGEST_LINGER_BELOW: '16',
    });
    expect(third).toBe(second);
    expect(second).not.toBe(first);
    expect(first).toBeDefined();
  });

  it('sends every batch at once when the linger is off', async () => {
    const [, second, third] = await threeSubmissions({ INGEST_LINGER_MS: '0' });
    expect(second).toBeDefined();
    expect(third).not.toBe(second);
  });

  it('sends a held batch at once when it reaches INGEST_LINGER_BELOW', async () => {
    const [, second, third] = await threeSubmissions({
      INGEST_LINGER_MS: '1000',
      INGEST_LINGER_BELOW: '1',
    });
    expect(second).toBeDefined();
    expect(third).not.toBe(second);
  });
});

describe('the article cache (CACHE_TTL_MS)', () => {
  it('reads an article in steady use again before its entry expires, off the batch path', async () => {
    const ctx = await createTestContext({ env: { CACHE_TTL_MS: '3000', INGEST_LINGER_MS: '0' } });
    try {
      const siteId = await ctx.site();
      const submit = () =>
        ctx.rt.ingest.submit({
          siteId,
          articleExternalId: 'steady',
          authorName: 'Reader',
          body: 'Another comment on the harbour plan, one of many.',
          signals: {},
        });
      const called = Date.now();
      await submit();
      const answered = Date.now();
      // Closed behind the API's back (another process did it): only a read of the row shows it.
      await ctx.rt.db.updateTable('articles').set({ closed: true }).where('site_id', '=', siteId).execute();
      // Into the entry's last fifth: this submission is still taken from the cache, and starts
      // the read.
      await sleep(answered + 2450 - Date.now());
      await expect(submit()).resolves.toMatchObject({ status: 'pending' });
      // The entry was cached after `called`, so until called + 3000 only a refresh can show it closed.
      let refused: unknown;
      while (!refused && Date.now() < called + 2950) {
        await submit().catch((err: unknown) => {
          refused = err;
        });
        if (!refused) await sleep(20);
      }
      expect(refused).toMatchObject({ status: 403, code: 'article_closed' });
    } finally {
      await ctx.close();
    }
  });
});
