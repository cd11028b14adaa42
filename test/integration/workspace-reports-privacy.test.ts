import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashIp } from '../../src/lib/crypto';
import { uuidv7 } from '../../src/lib/ids';
import { fileReport } from '../../src/repositories/reports';
import { saveSettings } from '../../src/repositories/site-settings';
import { purgeSubmissionContext } from '../../src/services/privacy';
import { createTestContext, TEST_ORIGIN, type TestContext } from '../helpers/context';
import { as, outboxFor, seedComments, signedIn } from '../helpers/workspace';

let t: TestContext;
beforeAll(async () => {
  t = await createTestContext({ env: { RATE_REPORT_PER_COMMENT: '5/3600' } });
});
afterAll(async () => {
  await t?.close();
});

/** A reader report written straight into its table, as the report route leaves one. */
async function insertReport(
  siteId: string,
  commentId: string,
  o: { ipHash: string | null; createdAt?: Date },
) {
  const id = uuidv7();
  await t.rt.db
    .insertInto('reports')
    .values({
      id,
      site_id: siteId,
      comment_id: commentId,
      reader_key: `reader-${id}`,
      ip_hash: o.ipHash,
      reason: 'spam',
      note: null,
      created_at: o.createdAt ?? new Date(),
    })
    .execute();
  return id;
}

// In-process requests have no peer address, so readers are told apart by their reader token.
const report = (siteId: string, id: string, body: Record<string, unknown>, reader: string) =>
  t.request(
    'POST',
    `/api/v1/sites/${siteId}/comments/${id}/reports`,
    { ...body, readerToken: `reader-${reader.replace(/\W/g, '')}-0123456789` },
    { origin: TEST_ORIGIN },
  );

describe('reader reports', () => {
  it("apply a site's own report limits from its policy, in place of the server's", async () => {
    // The server allows 5 reports per comment an hour (see beforeAll); this site allows 2.
    const siteId = await t.site({ floodControl: { reportsPerComment: { points: 2, seconds: 3600 } } });
    const other = await t.site();
    const statuses = async (site: string) => {
      const { ids } = await seedComments(t, site, 1, { status: 'published' });
      const out: number[] = [];
      for (let i = 0; i < 4; i++) out.push((await report(site, ids[0]!, { reason: 'spam' }, `r${i}`)).status);
      return out;
    };
    expect(await statuses(siteId)).toEqual([202, 202, 429, 429]);
    expect(await statuses(other)).toEqual([202, 202, 202, 202]);
  });

  it('accepts one report per reader, puts the comment in the reported queue past the threshold, rate-limits', async () => {
    const siteId = await t.site();
    await saveSettings(t.rt.db, siteId, { reportThreshold: 2, retentionDays: 90, eraseMode: 'anonymise' });
    const { ids } = await seedComments(t, siteId, 2, { status: 'published' });
    const id = ids[0]!;
    const r1 = await report(siteId, id, { reason: 'abuse', note: 'rude' }, '198.51.100.1');
    expect(r1.status).toBe(202);
    const dup = await report(siteId, id, { reason: 'spam' }, '198.51.100.1');
    expect(dup.status).toBe(409);
    expect(((await dup.json()) as { code: string }).code).toBe('already_reported');
    const before = await t.rt.db
      .selectFrom('comments')
      .select('reported_at')
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(before.reported_at).toBeNull();
    expect((await report(siteId, id, { reason: 'abuse' }, '198.51.100.2')).status).toBe(202);
    const after = await t.rt.db
      .selectFrom('comments')
      .select(['reported_at', 'report_count'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(after.reported_at).not.toBeNull();
    expect(after.report_count).toBe(2);
    expect((await outboxFor(t, id)).map((o) => o.topic)).toEqual(['comment.reported', 'comment.reported']);

    const mod = await signedIn(t, { [siteId]: 'moderator' });
    const q = (await (
      await as(t, mod)('GET', `/api/v1/moderation/sites/${siteId}/queues/reported`)
    ).json()) as {
      items: Array<{ id: string; reports: unknown[] }>;
    };
    expect(q.items.map((i) => i.id)).toEqual([id]);
    expect(q.items[0]!.reports).toHaveLength(2);
    // Approving keeps it published and closes the reports.
    expect(
      (await as(t, mod)('POST', `/api/v1/moderation/sites/${siteId}/comments/${id}/approve`, {})).status,
    ).toBe(200);
    const done = await t.rt.db
      .selectFrom('comments')
      .select(['status', 'reported_at'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    expect(done).toEqual({ status: 'published', reported_at: null });

    expect((await report(siteId, id, { reason: 'nope' }, '198.51.100.3')).status).toBe(422);
    expect(
      (await report(siteId, '00000000-0000-7000-8000-000000000000', { reason: 'spam' }, '198.51.100.3'))
        .status,
    ).toBe(404);
    // 5 per comment per hour (from readers with no address): the rest are refused with Retry-After.
    const site2 = await t.site();
    const { ids: ids2 } = await seedComments(t, site2, 1, { status: 'published' });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await report(site2, ids2[0]!, { reason: 'spam' }, `r${i}`)).status);
    expect(statuses.slice(0, 5)).toEqual([202, 202, 202, 202, 202]);
    expect(statuses[5]).toBe(429);
  });
});

describe('reader reports, counted', () => {
  it('counts readers behind one address once, and takes reports on published comments of the site only', async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 1, { status: 'published' });
    const file = (readerKey: string, ipHash: string | null, site = siteId, commentId = ids[0]!) =>
      t.rt.db.transaction().execute((trx) =>
        fileReport(trx, {
          siteId: site,
          commentId,
          readerKey,
          ipHash,
          reason: 'spam',
          note: null,
          threshold: 2,
        }),
      );
    expect(await file('reader-a', 'same-address')).toMatchObject({
      state: 'filed',
      reporters: 1,
      entered: false,
    });
    // Another browser on the same network is the same reporter as far as the threshold goes.
    expect(await file('reader-b', 'same-address')).toMatchObject({
      state: 'filed',
      reporters: 1,
      entered: false,
    });
    expect(await file('reader-c', 'other-address')).toMatchObject({
      state: 'filed',
      reporters: 2,
      entered: true,
    });

    const { ids: held } = await seedComments(t, siteId, 1);
    expect(await file('reader-d', null, siteId, held[0]!)).toEqual({ state: 'missing' });
    expect(await file('reader-e', null, await t.site())).toEqual({ state: 'missing' });
  });
});

describe('privacy', () => {
  it('exports and erases an author, and purges old submission context', async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 2, {
      email: 'ada@example.test',
      authorName: 'Ada L',
      status: 'published',
    });
    await seedComments(t, siteId, 1, { email: 'other@example.test' });
    const token = await t.token(siteId, 'admin');
    const h = { authorization: `Bearer ${token}` };
    const ex = await t.request(
      'POST',
      `/api/v1/admin/sites/${siteId}/privacy/export`,
      { email: 'ADA@example.test' },
      h,
    );
    expect(ex.status).toBe(200);
    const data = (await ex.json()) as {
      comments: Array<{ id: string; authorEmail: string; decisions: unknown[] }>;
    };
    expect(data.comments.map((c) => c.id).sort()).toEqual([...ids].sort());
    expect(data.comments[0]!.authorEmail).toBe('ada@example.test');
    expect(data.comments[0]!.decisions.length).toBeGreaterThan(0);

    const er = await t.request(
      'POST',
      `/api/v1/admin/sites/${siteId}/privacy/erase`,
      { email: 'ada@example.test' },
      h,
    );
    expect(await er.json()).toEqual({ comments: 2, mode: 'anonymise' });
    const rows = await t.rt.db.selectFrom('comments').selectAll().where('id', 'in', ids).execute();
    for (const r of rows) {
      expect(r).toMatchObject({
        author_name: '[erased]',
        author_email: null,
        email_hash: null,
        ip_hash: null,
        user_agent: null,
        referrer: null,
        status: 'published',
      });
    }
    const again = (await (
      await t.request(
        'POST',
        `/api/v1/admin/sites/${siteId}/privacy/export`,
        { email: 'ada@example.test' },
        h,
      )
    ).json()) as { comments: unknown[] };
    expect(again.comments).toHaveLength(0);

    // Delete mode empties and hides the comments, with an audit row and comment.deleted.
    await saveSettings(t.rt.db, siteId, { reportThreshold: 3, retentionDays: 1, eraseMode: 'delete' });
    const { ids: del } = await seedComments(t, siteId, 1, { email: 'bob@example.test', status: 'published' });
    const er2 = await t.request(
      'POST',
      `/api/v1/admin/sites/${siteId}/privacy/erase`,
      { email: 'bob@example.test' },
      h,
    );
    expect(await er2.json()).toEqual({ comments: 1, mode: 'delete' });
    const gone = await t.rt.db
      .selectFrom('comments')
      .selectAll()
      .where('id', '=', del[0]!)
      .executeTakeFirstOrThrow();
    expect(gone).toMatchObject({ status: 'deleted', body: '' });
    expect((await outboxFor(t, del[0]!)).map((o) => o.topic)).toContain('comment.deleted');

    // Retention: context older than the site's 1 day is cleared, younger is kept.
    const { ids: old } = await seedComments(t, siteId, 1, { email: 'old@example.test' });
    await t.rt.db
      .updateTable('comments')
      .set({ created_at: new Date(Date.now() - 2 * 86_400_000) })
      .where('id', '=', old[0]!)
      .execute();
    const { ids: young } = await seedComments(t, siteId, 1, { email: 'young@example.test' });
    expect(await purgeSubmissionContext(t.rt.db)).toBeGreaterThanOrEqual(1);
    const o = await t.rt.db
      .selectFrom('comments')
      .selectAll()
      .where('id', '=', old[0]!)
      .executeTakeFirstOrThrow();
    expect(o).toMatchObject({ ip_hash: null, user_agent: null, referrer: null });
    expect(o.email_hash).not.toBeNull();
    const y = await t.rt.db
      .selectFrom('comments')
      .selectAll()
      .where('id', '=', young[0]!)
      .executeTakeFirstOrThrow();
    expect(y.ip_hash).not.toBeNull();
  });

  it('erases on its own site only, with the reports from the same addresses and the edit history', async () => {
    const siteId = await t.site();
    const otherSite = await t.site();
    const h = { authorization: `Bearer ${await t.token(siteId, 'admin')}` };
    const erase = (email: string) =>
      t.request('POST', `/api/v1/admin/sites/${siteId}/privacy/erase`, { email }, h);
    const email = 'grace@example.test';
    const { ids, articleId } = await seedComments(t, siteId, 1, {
      email,
      status: 'published',
      ip: '192.0.2.77',
    });
    const { ids: elsewhere } = await seedComments(t, otherSite, 1, { email, ip: '192.0.2.77' });
    const reportFrom = (ip: string) =>
      insertReport(siteId, ids[0]!, { ipHash: hashIp(t.config.PARLEY_SECRET, ip) });
    const [sameAddress, otherAddress] = [await reportFrom('192.0.2.77'), await reportFrom('192.0.2.78')];
    const version = async () =>
      Number(
        (
          await t.rt.db
            .selectFrom('articles')
            .select('thread_version')
            .where('id', '=', articleId)
            .executeTakeFirstOrThrow()
        ).thread_version,
      );
    const before = await version();

    expect(await (await erase(email)).json()).toEqual({ comments: 1, mode: 'anonymise' });
    const reportHashes = await t.rt.db
      .selectFrom('reports')
      .select(['id', 'ip_hash'])
      .where('comment_id', '=', ids[0]!)
      .execute();
    const hashOf = new Map(reportHashes.map((r) => [r.id, r.ip_hash]));
    expect(hashOf.get(sameAddress)).toBeNull();
    expect(hashOf.get(otherAddress)).not.toBeNull();
    // The name is gone from the published thread, so cached copies of it must be refreshed.
    expect(await version()).toBeGreaterThan(before);
    const other = await t.rt.db
      .selectFrom('comments')
      .selectAll()
      .where('id', '=', elsewhere[0]!)
      .executeTakeFirstOrThrow();
    expect(other).toMatchObject({ author_email: email, author_name: 'Author 0' });
    expect(other.email_hash).not.toBeNull();

    // Delete mode takes the texts an edit replaced too; a comment withdrawn before is not announced again.
    await saveSettings(t.rt.db, siteId, { reportThreshold: 3, retentionDays: 90, eraseMode: 'delete' });
    const edited = 'edited@example.test';
    const { ids: mine } = await seedComments(t, siteId, 2, { email: edited, status: 'published' });
    await t.rt.db
      .insertInto('comment_revisions')
      .values({
        comment_id: mine[0]!,
        site_id: siteId,
        revision: 0,
        body: 'the first text',
        created_at: new Date(),
        replaced_at: new Date(),
      })
      .execute();
    await t.rt.db
      .updateTable('comments')
      .set({ status: 'deleted', body: '' })
      .where('id', '=', mine[1]!)
      .execute();
    expect(await (await erase(edited)).json()).toEqual({ comments: 2, mode: 'delete' });
    const revisions = await t.rt.db
      .selectFrom('comment_revisions')
      .select('id')
      .where('comment_id', 'in', mine)
      .execute();
    expect(revisions).toEqual([]);
    expect((await outboxFor(t, mine[0]!)).map((o) => o.topic)).toEqual(['comment.deleted']);
    expect(await outboxFor(t, mine[1]!)).toEqual([]);
    // Erasing an author whose every comment is already deleted is a no-op, not an error.
    const gone = 'gone@example.test';
    const { ids: withdrawn } = await seedComments(t, siteId, 1, { email: gone, status: 'published' });
    await t.rt.db
      .updateTable('comments')
      .set({ status: 'deleted', body: '' })
      .where('id', '=', withdrawn[0]!)
      .execute();
    const res = await erase(gone);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ comments: 1, mode: 'delete' });
  });

  it('purges submission context after 90 days on a site that never chose a retention period', async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 2, { status: 'published' });
    const [old, recent] = ids as [string, string];
    const at = (days: number) => new Date(Date.now() - days * 86_400_000);
    await t.rt.db
      .updateTable('comments')
      .set({ created_at: at(91) })
      .where('id', '=', old)
      .execute();
    await t.rt.db
      .updateTable('comments')
      .set({ created_at: at(89) })
      .where('id', '=', recent)
      .execute();
    const reportAt = (days: number) => insertReport(siteId, recent, { ipHash: 'h', createdAt: at(days) });
    const [oldReport, recentReport] = [await reportAt(91), await reportAt(89)];
    // Other tests' old rows may share the passes; each pass clears what it counts, so this ends.
    for (let pass = 0; pass < 20 && (await purgeSubmissionContext(t.rt.db)) > 0; pass++) {}
    const rows = await t.rt.db
      .selectFrom('comments')
      .select(['id', 'ip_hash', 'user_agent', 'referrer'])
      .where('id', 'in', ids)
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(old)).toMatchObject({ ip_hash: null, user_agent: null, referrer: null });
    expect(byId.get(recent)?.ip_hash).not.toBeNull();
    const reports = await t.rt.db
      .selectFrom('reports')
      .select(['id', 'ip_hash'])
      .where('comment_id', '=', recent)
      .execute();
    const reportHash = new Map(reports.map((r) => [r.id, r.ip_hash]));
    expect(reportHash.get(oldReport)).toBeNull();
    expect(reportHash.get(recentReport)).toBe('h');
  });
});
