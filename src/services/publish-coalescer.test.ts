import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestContext, type TestContext } from '../../test/helpers/context';
import { uuidv7 } from '../lib/ids';
import { moderateJobComments } from '../queue';
import { insertOutbox } from '../repositories/outbox';
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

describe('coalescing publisher', () => {
  it('puts the rows of commits made while a publish is in flight on the queue together', async () => {
    const original = t.rt.queues.moderate.addBulk.bind(t.rt.queues.moderate);
    const addBulk = vi.spyOn(t.rt.queues.moderate, 'addBulk');
    const publish = createCoalescingPublisher(t.rt.db, t.rt.queues, { maxInFlight: 1 });
    const groups = await Promise.all([submitted(3), submitted(4), submitted(5)]);
    addBulk.mockClear();
    // Holds the first addBulk until the other commits have handed in their rows.
    let started: () => void = () => {};
    const firstStarted = new Promise<void>((r) => {
      started = r;
    });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    addBulk.mockImplementationOnce(async (jobs) => {
      started();
      await gate;
      return original(jobs);
    });
    const first = publish(groups[0]!);
    await firstStarted;
    // Handed in while the first publish is still on its way to Redis: these two go together.
    const rest = [publish(groups[1]!), publish(groups[2]!)];
    release();
    expect(await first).toBe(true);
    expect(await Promise.all(rest)).toEqual([true, true]);
    expect(addBulk).toHaveBeenCalledTimes(2);
    // The second call carries the nine comments of the two later commits, as one job.
    const second = addBulk.mock.calls[1]?.[0] ?? [];
    expect(second.flatMap((j) => moderateJobComments(j.data).map((c) => c.commentId))).toHaveLength(9);
    expect(second).toHaveLength(1);

    const all = groups.flat();
    expect((await publishedAt(all.map((r) => r.id))).every((p) => p !== null)).toBe(true);
    // Every comment is in exactly one moderate job (comments published together share one).
    const jobs = await t.rt.queues.moderate.getJobs(['waiting', 'prioritized', 'delayed'], 0, -1);
    const queued = jobs.flatMap((j) => moderateJobComments(j.data).map((c) => c.commentId));
    expect(queued.sort()).toEqual(all.map((r) => r.comment_id!).sort());
    expect(jobs.length).toBeLessThan(all.length);
    addBulk.mockRestore();
  });

  it('leaves the rows unpublished for the relay when Redis refuses, and says so', async () => {
    const addBulk = vi.spyOn(t.rt.queues.moderate, 'addBulk').mockRejectedValue(new Error('Redis is away'));
    const publish = createCoalescingPublisher(t.rt.db, t.rt.queues);
    const rows = await submitted(2);
    expect(await publish(rows)).toBe(false);
    expect(await publishedAt(rows.map((r) => r.id))).toEqual([null, null]);
    addBulk.mockRestore();
  });
});
