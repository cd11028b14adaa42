/**
 * Two more Redis Cluster drills, on three masters with one replica each (as in
 * redis-cluster-failover.test.ts), with the real app and workers and a hash-tagged QUEUE_PREFIX:
 *
 * - Resharding under load: while comments keep arriving, the slot that holds every Parley key is
 *   moved by hand to another master (IMPORTING, MIGRATING, MIGRATE in batches, SETSLOT NODE).
 *   Every comment answered 202 must be decided, refusals must be clear, and afterwards new
 *   comments are decided at once on the slot's new master.
 * - A job lost before replication: the slot's master acknowledges jobs its replica never
 *   receives, then dies; the replica takes over without them, and the pending sweep must put
 *   those comments back on the queue.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../faults/procs';
import { scanServer } from '../../src/lib/redis-keys';
import {
  type Attempt,
  clusterDrill,
  FAILOVER_WITHIN_MS,
  onNode,
  SWEEP_AFTER_MS,
  sleep,
  startDrillCluster,
  stopDrillCluster,
} from '../helpers/cluster-drill';
import type { TestContext } from '../helpers/context';
import { PrivateRedisCluster, type SlotMigration } from '../helpers/redis-cluster';

const unavailable = PrivateRedisCluster.unavailable();
if (unavailable)
  console.warn(`Skipping the Redis Cluster resharding tests: ${unavailable}. CI installs redis-server.`);

/** How long the slot migration should take: long enough for a few hundred submissions to meet it. */
const MIGRATION_BATCHES = 12;
const MIGRATION_PAUSE_MS = 200;

/** A worker log line, as pino writes it. */
interface LogLine {
  level: number;
  time: number;
  msg: string;
  requeued?: number;
  err?: { message?: string };
}

describe.skipIf(unavailable !== null)('Parley through Redis Cluster resharding and replication loss', () => {
  const prefix = `{parley-reshard-${randomBytes(4).toString('hex')}}`;
  let cluster: PrivateRedisCluster;
  let t: TestContext;
  let siteId: string;
  let slot: number;
  const workerLines: LogLine[] = [];
  const workerLog = pino({ level: 'info' }, { write: (line: string) => workerLines.push(JSON.parse(line)) });
  const requeuedSoFar = () => workerLines.reduce((sum, l) => sum + (l.requeued ?? 0), 0);

  beforeAll(async () => {
    ({ cluster, t, siteId, slot } = await startDrillCluster({
      prefix,
      workerLog,
      env: {
        // Left on, far above the drills' rate, so each submission's flood counter (a script on a
        // key in the migrating slot) meets the move as production's would.
        RATE_SUBMIT_PER_ARTICLE: '1000000/60',
      },
    }));
  }, 60_000);
  afterAll(() => stopDrillCluster(t, cluster));

  const { submitOne, submitWhile, undecided, acceptedIds, expectNewCommentsDecided, expectReady } =
    clusterDrill(
      () => t,
      () => siteId,
    );

  /**
   * The moderate jobs on one node that carry any of `commentIds`, with when each was added. A
   * job's id does not tell (the sweep re-adds a lone comment under its original job id), its data
   * and timestamp do.
   */
  function jobsFor(port: number, commentIds: string[]) {
    const wanted = new Set(commentIds);
    return onNode(port, async (node) => {
      const keys = (await scanServer(node, `${prefix}:moderate:mod-*`)).filter((k) =>
        /:moderate:mod-[^:]+$/.test(k),
      );
      const found: Array<{ jobId: string; timestamp: number; commentIds: string[] }> = [];
      for (const key of keys) {
        const [data, timestamp] = await node.hmget(key, 'data', 'timestamp');
        if (!data) continue;
        const job = JSON.parse(data) as { commentId: string; more?: Array<{ commentId: string }> };
        const ids = [job.commentId, ...(job.more ?? []).map((m) => m.commentId)].filter((id) =>
          wanted.has(id),
        );
        if (ids.length)
          found.push({ jobId: key.split(':').pop()!, timestamp: Number(timestamp), commentIds: ids });
      }
      return found;
    });
  }

  /**
   * How the comments were decided: how long they waited (shortest, longest, how many over 1 s),
   * how many ended in each state, and any that got more than one system decision.
   */
  async function decisionsOf(ids: string[]) {
    const [rows, decisions] = await Promise.all([
      t.rt.db
        .selectFrom('comments')
        .select(['id', 'status', 'created_at', 'decided_at'])
        .where('id', 'in', ids)
        .execute(),
      t.rt.db
        .selectFrom('moderation_decisions')
        .select(['comment_id', 'to_status', 'reason_code'])
        .where('actor_type', '=', 'system')
        .where('comment_id', 'in', ids)
        .execute(),
    ]);
    const waits = rows.map((r) => new Date(r.decided_at!).getTime() - new Date(r.created_at).getTime());
    // Outcomes with the decisive reason: a hold for an unreadable velocity count would be Redis's doing.
    const outcomes = new Map<string, number>();
    for (const d of decisions) {
      const what = d.reason_code ? `${d.to_status} (${d.reason_code})` : d.to_status;
      outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    }
    const seen = new Set<string>();
    const twice = decisions.map((d) => d.comment_id).filter((id) => seen.has(id) || !seen.add(id));
    return {
      min: Math.min(...waits),
      max: Math.max(...waits),
      over1s: waits.filter((w) => w > 1000).length,
      outcomes: [...outcomes].map(([what, n]) => `${n} ${what}`).join(', '),
      twice,
    };
  }

  /** The worker's warnings since line `from`, counted by message and error (for the drill's summary). */
  function warningsSince(from: number): string {
    const counts = new Map<string, number>();
    for (const l of workerLines.slice(from).filter((x) => x.level >= 40)) {
      const what = `${l.msg}${l.err?.message ? `: ${l.err.message.slice(0, 90)}` : ''}`;
      counts.set(what, (counts.get(what) ?? 0) + 1);
    }
    return counts.size ? [...counts].map(([what, n]) => `${n}× ${what}`).join('; ') : 'none';
  }

  it('decides comments on the healthy cluster, each master with a replica', async () => {
    const nodes = await cluster.nodes();
    expect(nodes.filter((n) => n.role === 'master')).toHaveLength(3);
    expect(nodes.filter((n) => n.role === 'replica')).toHaveLength(3);
    const before = await Promise.all([0, 1, 2, 3, 4].map(() => submitOne('healthy')));
    expect(before.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    expect(await undecided(acceptedIds(before))).toEqual([]);
  });

  it('loses no accepted comment while the queue slot migrates to another master under load', async () => {
    const from = await cluster.masterOf(slot);
    const to = (await cluster.nodes()).find((n) => n.role === 'master' && n.id !== from.id)!;
    const requeuedBefore = requeuedSoFar();
    const linesBefore = workerLines.length;
    const stream = submitWhile('reshard');
    let move: SlotMigration;
    try {
      // A second of load first, so the slot holds a hundred keys or so (jobs, events, counters).
      await sleep(1000);
      const keysInSlot = Number(await cluster.cli(from.port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot)));
      move = await cluster.migrateSlot(slot, to.port, {
        batch: Math.max(1, Math.ceil(keysInSlot / MIGRATION_BATCHES)),
        pauseMs: MIGRATION_PAUSE_MS,
      });
      // Keep submitting a little past the move, while the clients follow MOVED to the new owner.
      await sleep(1500);
    } finally {
      await stream.stop();
    }
    const attempts = stream.attempts;

    // Every answer came in time: a 202, or a refusal that says what went wrong (no hang).
    expect(attempts.filter((a) => a.status === 0)).toEqual([]);
    const refused = attempts.filter((a) => a.status !== 202);
    for (const a of refused) expect(a.error).toMatchObject({ code: expect.any(String) });
    // Readers went on submitting while the slot was moving, not only before and after.
    const duringMove = attempts.filter((a) => a.at > move.startedAt && a.at < move.endedAt);
    expect(duringMove.length).toBeGreaterThan(0);
    const accepted = acceptedIds(attempts);
    expect(accepted.length).toBeGreaterThan(0);
    expect(await undecided(accepted)).toEqual([]);

    // Every node names the target as the slot's master, and nothing of the slot was left behind.
    expect((await cluster.awaitNewMaster(slot, from.port, FAILOVER_WITHIN_MS)).port).toBe(to.port);
    expect(await cluster.cli(from.port, 'CLUSTER', 'COUNTKEYSINSLOT', String(slot))).toBe('0');
    await expectNewCommentsDecided('after-reshard');
    await expectReady();
    expect(
      await onNode(to.port, async (node) => (await scanServer(node, `${prefix}:moderate:*`)).length),
    ).toBeGreaterThan(0);

    const decided = await decisionsOf(accepted);
    // Jobs may run twice after a failed completion; the decision's compare-and-set keeps one.
    expect(decided.twice).toEqual([]);
    console.info(
      `reshard: slot ${slot} moved ${from.port} → ${to.port} in ${move.endedAt - move.startedAt} ms ` +
        `(${move.keys} keys in ${move.batches} batches); ${attempts.length} submissions sent ` +
        `(${duringMove.length} during the move), ${accepted.length} accepted, ${refused.length} refused ` +
        `(${[...new Set(refused.map((a) => a.status))].join(', ') || 'none'}), slowest answer ` +
        `${Math.max(...attempts.map((a) => a.ms))} ms; submission to decision at most ${decided.max} ms ` +
        `(${decided.over1s} over 1 s; ${decided.outcomes}); the sweep re-queued ${requeuedSoFar() - requeuedBefore}; ` +
        `worker warnings: ${warningsSince(linesBefore)}`,
    );
  }, 60_000);

  it('re-queues comments whose jobs died with their master before reaching its replica', async () => {
    const owner = await cluster.masterOf(slot);
    const [replica] = await cluster.replicasOf(owner);
    expect(replica, `the slot's master ${owner.port} has a replica`).toBeDefined();
    const requeuedBefore = requeuedSoFar();
    let isolated = false;
    try {
      await cluster.isolateReplica(replica!.port);
      isolated = true;
      // No worker may take the jobs before the master dies. The pause is written after the link
      // was cut, so the replica never hears of it: once promoted, its queue runs at once.
      await t.rt.queues.moderate.pause();
      const attempts: Attempt[] = [];
      for (let i = 0; i < 12; i++) attempts.push(await submitOne('lost-before-replication'));
      expect(attempts.map((a) => a.status)).toEqual(attempts.map(() => 202));
      const accepted = acceptedIds(attempts);
      // The master holds a job for every one of them (published at once, after the commit).
      const onMaster = await until(
        async () =>
          (await jobsFor(owner.port, accepted)).flatMap((j) => j.commentIds).length === accepted.length,
        5000,
      );
      expect(onMaster, 'every accepted comment has a job on the master').toBe(true);

      const killedAt = Date.now();
      await cluster.kill(owner.port);
      cluster.thaw(replica!.port);
      isolated = false;
      await cluster.failover(replica!.port, FAILOVER_WITHIN_MS, 'takeover');
      const promoted = await cluster.awaitNewMaster(slot, owner.port, FAILOVER_WITHIN_MS);
      expect(promoted.port).toBe(replica!.port);
      // The promoted replica never received those jobs: none added before the master died holds
      // any of these comments (a job found now can only be the sweep's), and the queue is not paused.
      const survivors = (await jobsFor(promoted.port, accepted)).filter((j) => j.timestamp < killedAt);
      expect(survivors).toEqual([]);
      expect(await until(async () => !(await t.rt.queues.moderate.isPaused()), 5000)).toBe(true);

      expect(await undecided(accepted)).toEqual([]);
      // Decided by the sweep's jobs: each comment waited at least SWEEP_AFTER_MS, and the sweep
      // says it re-queued them.
      const waited = await decisionsOf(accepted);
      expect(waited.twice).toEqual([]);
      expect(waited.min).toBeGreaterThanOrEqual(SWEEP_AFTER_MS);
      const requeued = requeuedSoFar() - requeuedBefore;
      expect(requeued).toBeGreaterThanOrEqual(accepted.length);

      await expectNewCommentsDecided('after-lost-jobs');
      await expectReady();
      // The dead master restarted comes back empty, as the promoted node's replica.
      await cluster.restart(owner.port);
      await cluster.awaitReplicaOf(owner.port, promoted.port, FAILOVER_WITHIN_MS);
      console.info(
        `lost-before-replication: master ${owner.port} acknowledged ${accepted.length} jobs its replica ` +
          `${replica!.port} never received, then was killed; the replica took over with none of them; ` +
          `the sweep re-queued ${requeued}, decided ${waited.min}–${waited.max} ms after submission`,
      );
    } finally {
      if (isolated) cluster.thaw(replica!.port);
    }
  }, 60_000);
});
