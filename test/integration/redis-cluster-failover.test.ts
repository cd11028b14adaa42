/**
 * Parley through Redis Cluster failovers: three masters with one replica each, started here from
 * the machine's redis-server, the real app and workers with REDIS_CLUSTER=true and a hash-tagged
 * QUEUE_PREFIX. The master owning the prefix's slot is failed over by hand (CLUSTER FAILOVER),
 * killed with SIGKILL, and frozen with SIGSTOP, each time while comments keep arriving. A
 * submission may be refused with a clear 503 while the cluster switches, but every comment
 * answered 202 must be decided; afterwards new comments are accepted and decided at once and
 * /readyz is ok.
 */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanServer } from '../../src/lib/redis-keys';
import {
  clusterDrill,
  FAILOVER_WITHIN_MS,
  onNode,
  sleep,
  startDrillCluster,
  stopDrillCluster,
} from '../helpers/cluster-drill';
import type { TestContext } from '../helpers/context';
import { type ClusterNode, PrivateRedisCluster } from '../helpers/redis-cluster';

const unavailable = PrivateRedisCluster.unavailable();
if (unavailable)
  console.warn(`Skipping the Redis Cluster failover tests: ${unavailable}. CI installs redis-server.`);

describe.skipIf(unavailable !== null)('Parley through a Redis Cluster master failover', () => {
  const prefix = `{parley-failover-${randomBytes(4).toString('hex')}}`;
  let cluster: PrivateRedisCluster;
  let t: TestContext;
  let siteId: string;
  let slot: number;
  // The workers' log lines: what the sweep re-queued, for the drill's summary line.
  const workerLines: Array<{ msg: string; requeued?: number }> = [];
  const workerLog = pino({ level: 'info' }, { write: (line: string) => workerLines.push(JSON.parse(line)) });

  beforeAll(async () => {
    ({ cluster, t, siteId, slot } = await startDrillCluster({
      prefix,
      workerLog,
      // Flood control off altogether: the drills submit hundreds of comments to one article.
      env: { RATE_SUBMIT_PER_ARTICLE: '0/60' },
    }));
  }, 60_000);
  afterAll(() => stopDrillCluster(t, cluster));

  const { submitOne, submitWhile, undecided, acceptedIds, expectNewCommentsDecided, expectReady } =
    clusterDrill(
      () => t,
      () => siteId,
    );

  /** The queues are on `port` (the slot's master now). */
  async function expectQueueKeysOn(port: number) {
    const keys = await onNode(port, (node) => scanServer(node, `${prefix}*`));
    expect(keys.some((k) => k.includes(':moderate:'))).toBe(true);
  }

  /**
   * The drill: readers keep submitting while `lose` takes the slot's master away; its replica must
   * take over within FAILOVER_WITHIN_MS. Then every 202 is decided, new comments are accepted and
   * decided, /readyz is ok and the queues are on the promoted replica.
   */
  async function drill(name: string, lose: (owner: ClusterNode) => Promise<void>) {
    const owner = await cluster.masterOf(slot);
    const [replica] = await cluster.replicasOf(owner);
    expect(replica, `the slot's master ${owner.port} has a replica`).toBeDefined();
    const requeuedBefore = workerLines.reduce((sum, l) => sum + (l.requeued ?? 0), 0);
    const stream = submitWhile(name);
    await sleep(300);
    const lostAt = Date.now();
    await lose(owner);
    const promoted = await cluster.awaitNewMaster(slot, owner.port, FAILOVER_WITHIN_MS);
    const promotedAt = Date.now();
    expect(promoted.port).toBe(replica!.port);
    // Keep submitting a little past the promotion, while the clients find the new master.
    await sleep(1500);
    const attempts = await stream.stop();

    // Every answer was a 202 or a clear 503, in time; nothing else (no 500, no hang).
    expect(attempts.filter((a) => a.status !== 202 && a.status !== 503)).toEqual([]);
    for (const a of attempts.filter((x) => x.status === 503))
      expect(a.error).toMatchObject({ code: 'unavailable' });
    // Readers went on submitting while the slot had no master, not only before and after.
    const duringOutage = attempts.filter((a) => a.at > lostAt && a.at < promotedAt);
    expect(duringOutage.length).toBeGreaterThan(0);
    const accepted = acceptedIds(attempts);
    expect(accepted.length).toBeGreaterThan(0);
    // The point of it all: no comment answered 202 is lost.
    expect(await undecided(accepted)).toEqual([]);
    const allDecidedAt = Date.now();

    await expectNewCommentsDecided(`after-${name}`);
    await expectReady();
    await expectQueueKeysOn(promoted.port);
    const requeued = workerLines.reduce((sum, l) => sum + (l.requeued ?? 0), 0) - requeuedBefore;
    console.info(
      `${name}: master ${owner.port} lost, replica ${promoted.port} promoted after ${promotedAt - lostAt} ms; ` +
        `${attempts.length} submissions (${duringOutage.length} while the slot had no master), ` +
        `${accepted.length} answered 202, slowest answer ${Math.max(...attempts.map((a) => a.ms))} ms; ` +
        `all decided ${allDecidedAt - promotedAt} ms after the promotion; the sweep re-queued ${requeued}`,
    );
    return { owner, promoted };
  }

  it('decides comments on the healthy cluster, each master with a replica', async () => {
    const nodes = await cluster.nodes();
    expect(nodes.filter((n) => n.role === 'master')).toHaveLength(3);
    expect(nodes.filter((n) => n.role === 'replica')).toHaveLength(3);
    const owner = await cluster.masterOf(slot);
    expect(await cluster.replicasOf(owner)).toHaveLength(1);
    const before = await Promise.all([0, 1, 2, 3, 4].map(() => submitOne('healthy')));
    expect(before.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    expect(await undecided(acceptedIds(before))).toEqual([]);
    await expectQueueKeysOn(owner.port);
  });

  it('loses no accepted comment through a manual failover (CLUSTER FAILOVER on the replica)', async () => {
    await drill('manual-failover', async (owner) => {
      const [replica] = await cluster.replicasOf(owner);
      await cluster.failover(replica!.port, FAILOVER_WITHIN_MS);
    });
  }, 60_000);

  it('loses no accepted comment when the master is killed (SIGKILL) and its replica takes over', async () => {
    const { owner, promoted } = await drill('sigkill', (master) => cluster.kill(master.port));
    // The killed node restarted comes back as the promoted one's replica: ready for the next drill.
    await cluster.restart(owner.port);
    await cluster.awaitReplicaOf(owner.port, promoted.port, FAILOVER_WITHIN_MS);
  }, 60_000);

  it('loses no accepted comment when the master hangs (SIGSTOP) with its connections open', async () => {
    // No closed connection tells the clients anything here: only their periodic slot refresh
    // (slotsRefreshInterval in src/queue.ts) moves them, and their pending commands, to the replica.
    let frozen: number | undefined;
    try {
      await drill('sigstop', async (owner) => {
        cluster.freeze(owner.port);
        frozen = owner.port;
      });
    } finally {
      if (frozen !== undefined) cluster.thaw(frozen);
    }
  }, 60_000);
});
