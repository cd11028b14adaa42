import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../../test/helpers/context';
import { uuidv7 } from '../lib/ids';
import { ensureArticles } from '../repositories/articles';
import { insertCommentsAnnounced } from '../repositories/comments';
import { insertOutbox } from '../repositories/outbox';
import { findUnfannedOutbox, updateEndpoint } from '../repositories/webhooks';
import { EVENT_TYPES } from './events';
import { FANOUT_BATCH, FANOUT_JOB, fanoutJobId, fanoutJobsFor } from './outbox-route';
import { createEndpointWithSecret, fanOutBatch } from './service';

describe('fanoutJobsFor', () => {
  const row = (id: number, topic = 'comment.published') => ({ id: String(id), topic });

  it('turns the event rows published together into one job per batch, with stable ids', () => {
    expect(fanoutJobsFor([row(1, 'comment.submitted.internal'), row(2, 'not.an.event')])).toEqual([]);
    const one = fanoutJobsFor([row(7)]);
    expect(one).toHaveLength(1);
    expect(one[0]).toMatchObject({ queue: 'events', name: FANOUT_JOB, jobId: fanoutJobId('7') });
    expect(one[0]!.data).toEqual({ outboxIds: ['7'] });

    const three = fanoutJobsFor([row(10), row(11, 'comment.held'), row(12, 'unknown.topic'), row(13)]);
    expect(three).toHaveLength(1);
    expect(three[0]!.data).toEqual({ outboxIds: ['10', '11', '13'] });
    // Relaying the same rows again names the same job; other rows, another job.
    expect(fanoutJobsFor([row(10), row(11, 'comment.held'), row(13)])[0]!.jobId).toBe(three[0]!.jobId);
    expect(fanoutJobsFor([row(10), row(11), row(14)])[0]!.jobId).not.toBe(three[0]!.jobId);
    expect(three[0]!.jobId).not.toContain(':');

    const many = fanoutJobsFor(Array.from({ length: FANOUT_BATCH * 2 + 1 }, (_, i) => row(i + 1)));
    expect(many.map((j) => (j.data.outboxIds as string[]).length)).toEqual([FANOUT_BATCH, FANOUT_BATCH, 1]);
  });

  it('leaves out rows written when their site had no endpoint, but never an erasure', () => {
    const flagged = (id: number, fanout: boolean | undefined, topic = 'comment.published') => ({
      ...row(id, topic),
      fanout,
    });
    expect(fanoutJobsFor([flagged(1, false), flagged(2, false, 'comment.held')])).toEqual([]);
    const jobs = fanoutJobsFor([
      flagged(3, false),
      flagged(4, true),
      flagged(5, undefined),
      flagged(6, false, 'comment.deleted'),
    ]);
    expect(jobs.map((j) => j.data.outboxIds)).toEqual([['4', '5', '6']]);
  });
});

describe('fanOutBatch', () => {
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext();
  });
  afterAll(async () => {
    await t?.close();
  });

  const messagesFor = (outboxIds: string[]) =>
    t.rt.db
      .selectFrom('webhook_messages')
      .select(['outbox_id', 'endpoint_id', 'body'])
      .where('outbox_id', 'in', outboxIds)
      .execute();

  it('fans out only rows some endpoint of their site subscribes to, once however often it runs', async () => {
    const withEndpoint = await t.site();
    const without = await t.site();
    const early = await insertOutbox(t.rt.db, [
      { topic: 'comment.published', siteId: withEndpoint, commentId: null, payload: {} },
    ]);
    // Registered after `early`: it hears about what happens from now on, not before.
    await new Promise((r) => setTimeout(r, 20));
    const { endpoint } = await createEndpointWithSecret(t.rt.db, t.config.PARLEY_SECRET, {
      siteId: withEndpoint,
      url: 'http://127.0.0.1:9/hook',
      description: 'batch',
      eventTypes: ['comment.published'],
      enabled: true,
    });
    await new Promise((r) => setTimeout(r, 20));
    const rows = await insertOutbox(t.rt.db, [
      { topic: 'comment.published', siteId: withEndpoint, commentId: null, payload: {} },
      { topic: 'comment.held', siteId: withEndpoint, commentId: null, payload: {} },
      { topic: 'comment.published', siteId: without, commentId: null, payload: {} },
      { topic: 'comment.published', siteId: withEndpoint, commentId: null, payload: {} },
    ]);
    const ids = [...early, ...rows].map((r) => String(r.id));
    const created = await fanOutBatch(t.rt.db, ids, new Date(), t.rt.queues.prefix);
    expect(created).toHaveLength(2);
    const msgs = await messagesFor(ids);
    expect(msgs.map((m) => String(m.outbox_id)).sort()).toEqual(
      [String(rows[0]!.id), String(rows[3]!.id)].sort(),
    );
    expect(new Set(msgs.map((m) => m.endpoint_id))).toEqual(new Set([endpoint.id]));
    // A job run again (or the same rows in another batch) creates nothing new.
    expect(await fanOutBatch(t.rt.db, ids, new Date(), t.rt.queues.prefix)).toEqual([]);
    expect(await messagesFor(ids)).toHaveLength(2);
  });

  it("sends each endpoint only its own site's rows written after it was registered, and no word of its own disabling", async () => {
    let n = 0;
    const endpointOf = async (siteId: string) =>
      (
        await createEndpointWithSecret(t.rt.db, t.config.PARLEY_SECRET, {
          siteId,
          url: `http://127.0.0.1:9/tenant-${++n}`,
          description: 'tenant',
          eventTypes: [],
          enabled: true,
        })
      ).endpoint.id;
    const [siteA, siteB] = [await t.site(), await t.site()];
    const [a1, b1] = [await endpointOf(siteA), await endpointOf(siteB)];
    await new Promise((r) => setTimeout(r, 20));
    const before = await insertOutbox(t.rt.db, [
      { topic: 'comment.published', siteId: siteA, commentId: null, payload: {} },
    ]);
    await new Promise((r) => setTimeout(r, 20));
    const a2 = await endpointOf(siteA);
    await new Promise((r) => setTimeout(r, 20));
    const after = await insertOutbox(t.rt.db, [
      { topic: 'comment.published', siteId: siteA, commentId: null, payload: {} },
      { topic: 'comment.published', siteId: siteB, commentId: null, payload: {} },
      {
        topic: 'endpoint.disabled',
        siteId: siteA,
        commentId: null,
        payload: { endpointId: a1, reason: 'gone' },
      },
    ]);
    const rows = [...before, ...after];
    const ids = rows.map((r) => String(r.id));
    await fanOutBatch(t.rt.db, ids, new Date(), t.rt.queues.prefix);
    const got = new Map<string, string[]>();
    for (const m of await messagesFor(ids))
      got.set(m.endpoint_id, [...(got.get(m.endpoint_id) ?? []), String(m.outbox_id)]);
    const id = (i: number) => String(rows[i]!.id);
    expect(got.get(a1)?.sort()).toEqual([id(0), id(1)].sort());
    expect(got.get(a2)?.sort()).toEqual([id(1), id(3)].sort());
    expect(got.get(b1)).toEqual([id(2)]);
  });

  it('lets the sweep find a row written while an endpoint of its site was being registered', async () => {
    // The writing statement could not see the endpoint (its transaction had begun, not committed),
    // so the row came back with fanout false and got no job; the endpoint's created_at is earlier
    // than the row's, so it is owed the event, and the sweep is what delivers it.
    const siteId = await t.site();
    const arts = await ensureArticles(t.rt.db, [{ siteId, externalId: 'registered-meanwhile' }]);
    const now = new Date();
    const { outbox } = await insertCommentsAnnounced(
      t.rt.db,
      [
        {
          id: uuidv7(),
          site_id: siteId,
          article_id: [...arts.values()][0]!.id,
          author_name: 'Ada',
          body: 'posted while the endpoint was being registered',
          status: 'pending',
          signals: '{}',
          created_at: now,
          updated_at: now,
        },
      ],
      'comment.submitted',
    );
    const [written] = outbox as Array<(typeof outbox)[number] & { fanout?: boolean }>;
    expect(written?.fanout).toBe(false);
    expect(fanoutJobsFor([written!])).toEqual([]);
    const { endpoint } = await createEndpointWithSecret(t.rt.db, t.config.PARLEY_SECRET, {
      siteId,
      url: 'http://127.0.0.1:9/hook',
      description: 'registered meanwhile',
      eventTypes: [],
      enabled: true,
    });
    // Aged past the sweep's 30 s, the endpoint's transaction having begun a moment before the row's.
    const rowAt = new Date(Date.now() - 60_000);
    await t.rt.db.updateTable('outbox').set({ created_at: rowAt }).where('id', '=', written!.id).execute();
    await t.rt.db
      .updateTable('webhook_endpoints')
      .set({ created_at: new Date(rowAt.getTime() - 5) })
      .where('id', '=', endpoint.id)
      .execute();
    const { ids: found } = await findUnfannedOutbox(t.rt.db, {
      topics: EVENT_TYPES,
      olderThan: new Date(Date.now() - 30_000),
      window: 20_000,
      limit: 500,
    });
    expect(found).toContain(String(written!.id));
  });

  it('finds old unfanned rows below the newest window when told where the last complete pass ended', async () => {
    const siteId = await t.site();
    const { endpoint } = await createEndpointWithSecret(t.rt.db, t.config.PARLEY_SECRET, {
      siteId,
      url: 'http://127.0.0.1:9/hook',
      description: 'cursor',
      eventTypes: [],
      enabled: true,
    });
    await t.rt.db
      .updateTable('webhook_endpoints')
      .set({ created_at: new Date(Date.now() - 120_000) })
      .where('id', '=', endpoint.id)
      .execute();
    const event = () => ({ topic: 'comment.reported', siteId, commentId: uuidv7(), payload: {} });
    // Three rows whose fan-out jobs were lost a minute ago, then a burst of newer rows on top.
    const lost = await insertOutbox(t.rt.db, [event(), event(), event()]);
    await t.rt.db
      .updateTable('outbox')
      .set({ created_at: new Date(Date.now() - 60_000) })
      .where(
        'id',
        'in',
        lost.map((r) => r.id),
      )
      .execute();
    await insertOutbox(t.rt.db, [event(), event(), event(), event(), event()]);
    const sweep = async (fromId: string | null) =>
      (
        await findUnfannedOutbox(t.rt.db, {
          topics: EVENT_TYPES,
          olderThan: new Date(Date.now() - 30_000),
          window: 2,
          limit: 500,
          fromId,
        })
      ).ids;
    // The newest two ids are all a fixed window sees, and they are too young to take.
    expect(await sweep(null)).toEqual([]);
    const from = String(BigInt(lost[0]!.id) - 1n);
    expect(await sweep(from)).toEqual(lost.map((r) => String(r.id)));
    // Past them, nothing: the cursor only ever moves up.
    expect(await sweep(String(lost[2]!.id))).toEqual([]);
  });

  it('still scrubs earlier messages on an erasure when the site has no enabled endpoint left', async () => {
    const siteId = await t.site();
    const posted = await t.submit(siteId, 'erase-me', { authorName: 'Zed', body: 'Words to forget' });
    expect(posted.status).toBe(202);
    const commentId = ((await posted.json()) as { id: string }).id;
    const { endpoint } = await createEndpointWithSecret(t.rt.db, t.config.PARLEY_SECRET, {
      siteId,
      url: 'http://127.0.0.1:9/hook',
      description: 'erasure',
      eventTypes: [],
      enabled: true,
    });
    await new Promise((r) => setTimeout(r, 20));
    const [published] = await insertOutbox(t.rt.db, [
      { topic: 'comment.published', siteId, commentId, payload: {} },
    ]);
    await fanOutBatch(t.rt.db, [String(published!.id)], new Date(), t.rt.queues.prefix);
    const [before] = await messagesFor([String(published!.id)]);
    expect(before?.body).toContain('Words to forget');

    await updateEndpoint(t.rt.db, siteId, endpoint.id, { enabled: false });
    const [deleted] = await insertOutbox(t.rt.db, [
      { topic: 'comment.deleted', siteId, commentId, payload: { erasure: true } },
    ]);
    expect(await fanOutBatch(t.rt.db, [String(deleted!.id)], new Date(), t.rt.queues.prefix)).toEqual([]);
    const [after] = await messagesFor([String(published!.id)]);
    expect(after?.body).not.toContain('Words to forget');
    expect(after?.body).not.toContain('Zed');
  });

  it('fans out a batch in the same few statements whatever its size, earlier rows and an erasure included', async () => {
    const siteId = await t.site();
    await createEndpointWithSecret(t.rt.db, t.config.PARLEY_SECRET, {
      siteId,
      url: 'http://127.0.0.1:9/hook',
      description: 'batch size',
      eventTypes: [],
      enabled: true,
    });
    await new Promise((r) => setTimeout(r, 20));
    let statements = 0;
    const counting = t.rt.db.withPlugin({
      transformQuery: (a) => {
        statements++;
        return a.node;
      },
      transformResult: async (a) => a.result,
    });
    const statementsFor = async (n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const posted = await t.submit(siteId, `size-${n}`, {
          authorName: `Author ${n}-${i}`,
          body: `Text ${n}-${i}`,
        });
        ids.push(((await posted.json()) as { id: string }).id);
      }
      // Each comment's held event waits unfanned (its job has not run); the batch has the later ones.
      await insertOutbox(
        t.rt.db,
        ids.map((commentId) => ({ topic: 'comment.held', siteId, commentId, payload: {} })),
      );
      const rows = await insertOutbox(
        t.rt.db,
        ids.map((commentId) => ({
          topic: 'comment.approved',
          siteId,
          commentId,
          payload: { actor: 'moderator' },
        })),
      );
      statements = 0;
      const created = await fanOutBatch(
        counting,
        rows.map((r) => String(r.id)),
        new Date(),
        t.rt.queues.prefix,
      );
      // Each comment's submitted and held events were pulled in ahead of its approval.
      expect(created).toHaveLength(3 * n);
      return statements;
    };
    const few = await statementsFor(2);
    const many = await statementsFor(30);
    expect(many).toBe(few);
    expect(few).toBeLessThanOrEqual(5);

    // An erasure in the same batch as the comment's published event: the message that would carry
    // the text is blanked before anything can lease it.
    const posted = await t.submit(siteId, 'erased-in-batch', { authorName: 'Quill', body: 'Gone soon' });
    const commentId = ((await posted.json()) as { id: string }).id;
    const pair = await insertOutbox(t.rt.db, [
      { topic: 'comment.published', siteId, commentId, payload: {} },
      { topic: 'comment.deleted', siteId, commentId, payload: { erasure: true } },
    ]);
    await fanOutBatch(
      t.rt.db,
      pair.map((r) => String(r.id)),
      new Date(),
      t.rt.queues.prefix,
    );
    const msgs = await messagesFor(pair.map((r) => String(r.id)));
    expect(msgs).toHaveLength(2);
    for (const m of msgs) {
      expect(m.body).not.toContain('Gone soon');
      expect(m.body).not.toContain('Quill');
    }
  });
});
