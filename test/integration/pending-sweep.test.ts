/**
 * The pending sweep puts back on the queue comments whose job went missing, and leaves alone
 * comments whose (batch) job is still waiting behind a backlog.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { moderateJobComments } from '../../src/queue';
import { sweepPending } from '../../workers/index';
import { createTestContext, type TestContext } from '../helpers/context';

let t: TestContext;
let siteId: string;

beforeAll(async () => {
  // No workers: submitted comments stay pending with their job waiting, as in a backlog.
  t = await createTestContext();
  siteId = await t.site();
});
afterAll(async () => {
  await t?.close();
});

async function submitMany(n: number, article: string): Promise<string[]> {
  const res = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      t.submit(siteId, article, {
        authorName: `R${i}`,
        body: `A considered remark number ${i} on the vote.`,
      }),
    ),
  );
  return Promise.all(res.map(async (r) => ((await r.json()) as { id: string }).id));
}

async function queuedComments(): Promise<string[]> {
  const jobs = await t.rt.queues.moderate.getJobs(['wait'], 0, -1);
  return jobs.flatMap((j) => moderateJobComments(j.data).map((c) => c.commentId));
}

async function waitUntilQueued(ids: string[]) {
  for (let i = 0; i < 100; i++) {
    const q = new Set(await queuedComments());
    if (ids.every((id) => q.has(id))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('submitted comments never reached the queue');
}

const deps = () => ({ db: t.rt.db, queues: t.rt.queues, sweepAfterMs: 30_000 });

describe('pending sweep', () => {
  it('skips comments whose job is still waiting, sweeps older ones, and all once the queue is lost', async () => {
    const waiting = await submitMany(4, 'sweep-backlog');
    await waitUntilQueued(waiting);
    // A comment from well before the oldest waiting job, whose own job is gone.
    const [lost] = await submitMany(1, 'sweep-lost');
    await waitUntilQueued([lost!]);
    const lostJobs = await t.rt.queues.moderate.getJobs(['wait'], 0, -1);
    for (const j of lostJobs) {
      if (moderateJobComments(j.data).some((c) => c.commentId === lost)) await j.remove();
    }
    await t.rt.db
      .updateTable('comments')
      .set({ created_at: new Date(Date.now() - 120_000) })
      .where('id', '=', lost!)
      .execute();

    // A minute later every comment is past SWEEP_AFTER_MS, but only the lost one is re-queued.
    const later = new Date(Date.now() + 60_000);
    expect(await sweepPending(deps(), later)).toBe(1);
    const single = await t.rt.queues.moderate.getJob(`mod-${lost}`);
    expect(single?.data).toMatchObject({ commentId: lost });
    const before = (await queuedComments()).filter((id) => waiting.includes(id));
    expect(before.sort()).toEqual([...waiting].sort());

    // Redis loses the queue: every pending comment is swept, each as its own job, once it is
    // older than SWEEP_AFTER_MS (the four just submitted are not, yet).
    await t.rt.queues.moderate.drain(true);
    expect(await queuedComments()).toEqual([]);
    expect(await sweepPending(deps(), new Date())).toBe(1);
    // (Its job, now waiting, would hold back the younger ones as a backlog: lose it too.)
    await t.rt.queues.moderate.drain(true);
    expect(await sweepPending(deps(), later)).toBe(5);
    expect((await queuedComments()).sort()).toEqual([...waiting, lost!].sort());
  });

  it("puts an edited comment back under its edit's job id, not its first one's", async () => {
    const [edited] = await submitMany(1, 'sweep-edited');
    await waitUntilQueued([edited!]);
    await t.rt.queues.moderate.drain(true);
    // As an author's edit leaves it: pending again, at revision 1, its first job long done.
    await t.rt.db
      .updateTable('comments')
      .set({ revision: 1, created_at: new Date(Date.now() - 120_000) })
      .where('id', '=', edited!)
      .execute();
    expect(await sweepPending(deps(), new Date())).toBeGreaterThanOrEqual(1);
    expect((await t.rt.queues.moderate.getJob(`mod-${edited}-r1`))?.data).toMatchObject({
      commentId: edited,
    });
  });
});
