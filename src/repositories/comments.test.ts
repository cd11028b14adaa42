import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewComment } from '../../db/schema';
import { createTestContext, type TestContext } from '../../test/helpers/context';
import { uuidv7 } from '../lib/ids';
import { ensureArticles } from './articles';
import { insertComments } from './comments';

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
