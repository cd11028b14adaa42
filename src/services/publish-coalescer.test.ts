import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestContext, type TestContext } from '../../test/helpers/context';
import { uuidv7 } from '../lib/ids';
import { moderateJobComments } from '../queue';
import { ensureArticles } from '../repositories/articles';
import { insertCommentsAnnounced } from '../repositories/comments';
import { insertOutbox, outboxLag } from '../repositories/outbox';
import { createEndpointWithSecret } from '../webhooks/service';
import { publishNow, relayOnce } from './outbox-publisher';
import { createCoalescingPublisher } from './publish-coalescer';

let t: TestContext;
let siteId: string;

beforeAll(async () => {
  t = await createTestContext();
  siteId = await t.site();
});
afterAll(async () => {
  vi.restoreAllMocks();
  await t?.close();
});

const submitted = (n: number) =>
  insertOutbox(
    t.rt.db,
    Array.from({ length: n }, () => ({
      topic: 'comment.submitted',
      siteId,
      commentId: uuidv7(),
      payload: {},
    })),
  );

async function publishedAt(ids: string[]) {
  const rows = await t.rt.db
    .selectFrom('outbox')
    .select(['id', 'published_at'])
    .where('id', 'in', ids)
    .execute();
  return rows.map((r) => r.published_at);
}

/** The comments of every moderate job waiting on the queue. */
const queuedComments = async () =>
  (await t.rt.queues.moderate.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1)).flatMap((j) =>
    moderateJobComments(j.data).map((c) => c.commentId),
  );

type ModerateQueue = TestContext['rt']['queues']['moderate'];
type AddedJob = { data: Parameters<ModerateQueue['add']>[1] };

/**
 * Records every call that adds jobs to the queue (a lone job goes by add, several by addBulk: see
 * enqueueRows), as the list of jobs it carried; `hold` may delay a call before it reaches Redis.
 * The spies last until the end of the test.
 */
function recordAdds(queue: ModerateQueue, hold: (call: number) => Promise<void> = async () => {}) {
  const calls: AddedJob[][] = [];
  const add = queue.add.bind(queue);
  const addBulk = queue.addBulk.bind(queue);
  vi.spyOn(queue, 'add').mockImplementation(async (name, data, opts) => {
    calls.push([{ data }]);
    await hold(calls.length);
    return add(name, data, opts);
  });
  vi.spyOn(queue, 'addBulk').mockImplementation(async (jobs) => {
    calls.push(jobs.map((j) => ({ data: j.data })));
    await hold(calls.length);
    return addBulk(jobs);
  });
  return calls;
}

/** Every way of adding jobs to the queue fails, as when Redis refuses. */
function refuseAdds(queue: ModerateQueue) {
  const spies = [
    vi.spyOn(queue, 'add').mockRejectedValue(new Error('Redis is away')),
    vi.spyOn(queue, 'addBulk').mockRejectedValue(new Error('Redis is away')),
  ];
  return () => {
    for (const spy of spies) spy.mockRestore();
  };
}

// A test that fails part-way must not leave its spies on the shared queue for the next one.
afterEach(() => {
  vi.restoreAllMocks();
});

describe('coalescing publisher', () => {
  it('puts the rows of commits made while a publish is in flight on the queue together', async () => {
    const publish = createCoalescingPublisher(t.rt.db, t.rt.queues, { maxInFlight: 1 });
    const groups = await Promise.all([submitted(3), submitted(4), submitted(5)]);
    // Holds the first add until the other commits have handed in their rows.
    let started: () => void = () => {};
    const firstStarted = new Promise<void>((r) => {
      started = r;
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const adds = recordAdds(t.rt.queues.moderate, async (call) => {
      if (call !== 1) return;
      started();
      await gate;
    });
    const first = publish(groups[0]!);
    await firstStarted;
    // Handed in while the first publish is still on its way to Redis: these two go together.
    const rest = [publish(groups[1]!), publish(groups[2]!)];
    release();
    expect(await first).toBe(true);
    expect(await Promise.all(rest)).toEqual([true, true]);
    expect(adds).toHaveLength(2);
    // The second call carries the nine comments of the two later commits, as one job.
    const second = adds[1] ?? [];
    expect(second.flatMap((j) => moderateJobComments(j.data).map((c) => c.commentId))).toHaveLength(9);
    expect(second).toHaveLength(1);

    const all = groups.flat();
    expect((await publishedAt(all.map((r) => r.id))).every((p) => p !== null)).toBe(true);
    // Every comment is in exactly one moderate job (comments published together share one).
    const jobs = await t.rt.queues.moderate.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1);
    const queued = jobs.flatMap((j) => moderateJobComments(j.data).map((c) => c.commentId));
    expect(queued.sort()).toEqual(all.map((r) => r.comment_id!).sort());
    expect(jobs.length).toBeLessThan(all.length);
  });

  it('adds a lone job with one script call, and several in one pipeline', async () => {
    const queue = t.rt.queues.moderate;
    const add = vi.spyOn(queue, 'add');
    const addBulk = vi.spyOn(queue, 'addBulk');
    // One commit's rows: one moderate job.
    expect(await createCoalescingPublisher(t.rt.db, t.rt.queues)(await submitted(3))).toBe(true);
    expect(add).toHaveBeenCalledTimes(1);
    expect(addBulk).not.toHaveBeenCalled();
    // More comments than one worker batch takes: several jobs, added together.
    add.mockClear();
    const many = await submitted(150);
    expect(await createCoalescingPublisher(t.rt.db, t.rt.queues, { maxRows: 1000 })(many)).toBe(true);
    expect(add).not.toHaveBeenCalled();
    expect(addBulk).toHaveBeenCalledTimes(1);
    const jobs = addBulk.mock.calls[0]![0];
    expect(jobs.length).toBeGreaterThan(1);
    expect(jobs.flatMap((j) => moderateJobComments(j.data).map((c) => c.commentId)).sort()).toEqual(
      many.map((r) => r.comment_id!).sort(),
    );
  });

  it('leaves the rows unpublished for the relay when Redis refuses, and says so', async () => {
    const restore = refuseAdds(t.rt.queues.moderate);
    const publish = createCoalescingPublisher(t.rt.db, t.rt.queues);
    const rows = await submitted(2);
    expect(await publish(rows)).toBe(false);
    expect(await publishedAt(rows.map((r) => r.id))).toEqual([null, null]);
    restore();
  });

  it('leaves the rows of publishNow for the relay too, which queues them once their grace has passed', async () => {
    const restore = refuseAdds(t.rt.queues.moderate);
    const rows = await submitted(2);
    const ids = rows.map((r) => r.id);
    expect(await publishNow(t.rt.db, t.rt.queues, rows)).toBe(false);
    restore();
    expect(await publishedAt(ids)).toEqual([null, null]);
    await relayOnce(t.rt.db, t.rt.queues, { graceMs: 60_000, limit: 500 });
    expect(await publishedAt(ids)).toEqual([null, null]);
    expect(await relayOnce(t.rt.db, t.rt.queues, { graceMs: 0, limit: 500 })).toBeGreaterThanOrEqual(2);
    expect((await publishedAt(ids)).every((at) => at !== null)).toBe(true);
    expect(await queuedComments()).toEqual(expect.arrayContaining(rows.map((r) => r.comment_id)));
  });

  describe('rows of a batched writer (one outbox_batches row per statement)', () => {
    /** What ingest writes: n comments and their outbox rows in one statement, with one batch row. */
    async function ingested(n: number, site = siteId) {
      const arts = await ensureArticles(t.rt.db, [{ siteId: site, externalId: 'coalescer-batches' }]);
      const articleId = [...arts.values()][0]!.id;
      const now = new Date();
      const { outbox } = await insertCommentsAnnounced(
        t.rt.db,
        Array.from({ length: n }, (_, i) => ({
          id: uuidv7(),
          site_id: site,
          article_id: articleId,
          author_name: 'Ada',
          body: `batched comment ${i}`,
          status: 'pending' as const,
          signals: '{}',
          created_at: now,
          updated_at: now,
        })),
        'comment.submitted',
      );
      return outbox as Array<(typeof outbox)[number] & { batch_id: string | null; fanout?: boolean }>;
    }
    const batchRow = (id: string) =>
      t.rt.db.selectFrom('outbox_batches').selectAll().where('id', '=', id).executeTakeFirst();

    it('marks them published by deleting their batch row, with no UPDATE of the rows', async () => {
      const rows = await ingested(3);
      const batchId = rows[0]!.batch_id!;
      expect(rows.every((r) => r.batched && r.batch_id === batchId)).toBe(true);
      expect((await batchRow(batchId))?.outbox_ids).toEqual(rows.map((r) => r.id));
      const publish = createCoalescingPublisher(t.rt.db, t.rt.queues);
      expect(await publish(rows)).toBe(true);
      expect(await batchRow(batchId)).toBeUndefined();
      // The rows are untouched: published_at stays null, and the unpublished index never held them.
      expect(await publishedAt(rows.map((r) => r.id))).toEqual([null, null, null]);
      expect(await queuedComments()).toEqual(expect.arrayContaining(rows.map((r) => r.comment_id)));
    });

    it('adds a webhook fan-out job only for sites that had an endpoint when the rows were written', async () => {
      const fanoutIds = async () =>
        (await t.rt.queues.events.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1)).flatMap(
          (j) => (j.data as { outboxIds?: string[] }).outboxIds ?? [],
        );
      const quiet = await ingested(2);
      expect(quiet.map((r) => r.fanout)).toEqual([false, false]);
      const hooked = await t.site();
      await createEndpointWithSecret(t.rt.db, t.config.PARLEY_SECRET, {
        siteId: hooked,
        url: 'http://127.0.0.1:9/hook',
        description: 'coalescer',
        eventTypes: [],
        enabled: false,
      });
      // Any endpoint counts, enabled or not: the fan-out job itself applies the exact test.
      const heard = await ingested(2, hooked);
      expect(heard.map((r) => r.fanout)).toEqual([true, true]);
      const publish = createCoalescingPublisher(t.rt.db, t.rt.queues);
      expect(await Promise.all([publish(quiet), publish(heard)])).toEqual([true, true]);
      const ids = await fanoutIds();
      expect(ids).toEqual(expect.arrayContaining(heard.map((r) => String(r.id))));
      for (const r of quiet) expect(ids).not.toContain(String(r.id));
      // The moderate jobs do not depend on it.
      expect(await queuedComments()).toEqual(
        expect.arrayContaining([...quiet, ...heard].map((r) => r.comment_id)),
      );
    });

    it('keeps the batch row when Redis refuses; the metric counts its rows and the relay sends them', async () => {
      const before = (await outboxLag(t.rt.db)).unpublished;
      const restore = refuseAdds(t.rt.queues.moderate);
      const rows = await ingested(4);
      const batchId = rows[0]!.batch_id!;
      expect(await createCoalescingPublisher(t.rt.db, t.rt.queues)(rows)).toBe(false);
      restore();
      expect(await batchRow(batchId)).toBeDefined();
      expect((await outboxLag(t.rt.db)).unpublished).toBe(before + 4);
      // Within the grace period the relay leaves the batch to its writer.
      await relayOnce(t.rt.db, t.rt.queues, { graceMs: 60_000, limit: 500 });
      expect(await batchRow(batchId)).toBeDefined();
      expect(await relayOnce(t.rt.db, t.rt.queues, { graceMs: 0, limit: 500 })).toBeGreaterThanOrEqual(4);
      expect(await batchRow(batchId)).toBeUndefined();
      // With no grace, the relay took everything left (the earlier test's rows too).
      expect((await outboxLag(t.rt.db)).unpublished).toBe(0);
      expect(await queuedComments()).toEqual(expect.arrayContaining(rows.map((r) => r.comment_id)));
    });
  });
});
