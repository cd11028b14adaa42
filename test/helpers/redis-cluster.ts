/**
 * A private Redis Cluster for tests: masters (three by default), optionally with replicas, started
 * from the machine's redis-server on free loopback ports, in a temp dir, so a test can run Parley
 * on a real cluster, and kill or fail over its masters, without touching the shared Redis.
 * Processes and files go away in stop().
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, Proc, until } from '../../faults/procs';

const run = promisify(execFile);

/** Distinct free loopback ports (freePort may hand out one just released twice). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < count && tries < count * 20; tries++) ports.add(await freePort());
  if (ports.size < count) throw new Error(`found only ${ports.size} of ${count} free ports`);
  return [...ports];
}

export interface ClusterStartOptions {
  /** Replicas per master (default 0). With one or more, a master's death is a failover, not an outage. */
  replicas?: number;
  /**
   * cluster-node-timeout (default 2000 ms): how long a node may be unreachable before the others
   * count it as failing. Automatic failover takes about this plus one to two seconds.
   */
  nodeTimeoutMs?: number;
  /** Bound on the whole start, joining and syncing included (default 20 s). */
  timeoutMs?: number;
}

/** One line of CLUSTER NODES, as one node sees it. */
export interface ClusterNode {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** The master's node id, for a replica. */
  masterId: string | null;
  /** Flagged fail (the majority agrees it is unreachable) or fail? (this node alone thinks so). */
  failing: boolean;
  /** Slot ranges owned, inclusive; empty for a replica. */
  slots: Array<[number, number]>;
}

function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [id, addr, flags, master, , , , , ...slotFields] = line.trim().split(' ');
      const port = Number(addr!.split('@')[0]!.split(':').pop());
      const flagSet = new Set(flags!.split(','));
      const slots: Array<[number, number]> = [];
      // Migrating/importing entries ("[5-<-id]") are not ownership.
      for (const f of slotFields) {
        if (f.startsWith('[')) continue;
        const [from, to] = f.split('-').map(Number);
        slots.push([from!, to ?? from!]);
      }
      return {
        id: id!,
        port,
        role: flagSet.has('master') ? 'master' : 'replica',
        masterId: master === '-' ? null : master!,
        failing: flagSet.has('fail') || flagSet.has('fail?'),
        slots,
      };
    });
}

export class PrivateRedisCluster {
  private constructor(
    readonly dir: string,
    /** Every node's client port, masters and replicas alike: nodes() says which is which now. */
    readonly ports: number[],
    private readonly procs: Proc[],
  ) {}

  /** Nodes stopped with SIGSTOP: their process runs, but they answer nobody. */
  private readonly frozen = new Set<number>();

  /** Why the cluster cannot run here (no redis-server or redis-cli on PATH), or null. */
  static unavailable(): string | null {
    for (const bin of ['redis-server', 'redis-cli']) {
      const r = spawnSync(bin, ['--version'], { stdio: 'pipe', timeout: 5000 });
      if (r.error || r.status !== 0)
        return `${bin} is not on PATH (${r.error?.message ?? `exit ${r.status}`})`;
    }
    return null;
  }

  /**
   * Starts `masters` nodes (and `replicas` per master), joins them into one cluster and waits until
   * every node says ok, every node sees the same masters and replicas, and every replica is in sync.
   * A number as the second argument is the time bound, as before options existed.
   */
  static async start(masters = 3, options: number | ClusterStartOptions = {}): Promise<PrivateRedisCluster> {
    const opts = typeof options === 'number' ? { timeoutMs: options } : options;
    const replicas = opts.replicas ?? 0;
    const timeoutMs = opts.timeoutMs ?? 20_000;
    const deadline = Date.now() + timeoutMs;
    const dir = mkdtempSync(join(tmpdir(), 'parley-redis-cluster-'));
    const count = masters * (1 + replicas);
    // Each node needs a client port and a cluster bus port (cluster-port, Redis 7): both chosen
    // free rather than the default port + 10000, which may be taken or past 65535.
    const all = await distinctFreePorts(count * 2);
    const ports = all.slice(0, count);
    const procs = ports.map(
      (port, i) =>
        new Proc(
          `redis-${port}`,
          'redis-server',
          [
            '--port',
            String(port),
            '--cluster-port',
            String(all[count + i]),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            String(opts.nodeTimeoutMs ?? 2000),
            // A replica's first sync starts at once instead of waiting 5 s for more replicas.
            '--repl-diskless-sync-delay',
            '0',
            '--save',
            '',
            '--appendonly',
            'no',
            '--dir',
            dir,
            '--maxmemory-policy',
            'noeviction',
            '--daemonize',
            'no',
          ],
          { logFile: join(dir, `redis-${port}.log`) },
        ),
    );
    const cluster = new PrivateRedisCluster(dir, ports, procs);
    try {
      for (const p of procs) p.start();
      for (const port of ports) {
        const up = await until(
          () => cluster.cli(port, 'PING').then((r) => r === 'PONG'),
          deadline - Date.now(),
        );
        if (!up) throw new Error(`redis-server on ${port} did not start:\n${cluster.proc(port).tail()}`);
      }
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((p) => `127.0.0.1:${p}`),
          '--cluster-replicas',
          String(replicas),
          '--cluster-yes',
        ],
        { timeout: Math.max(1000, deadline - Date.now()) },
      );
      const ok = await until(() => cluster.settled(masters, replicas), deadline - Date.now());
      if (!ok)
        throw new Error(
          `the cluster did not settle (state ok, one view, replicas in sync) within ${timeoutMs} ms`,
        );
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /**
   * Every live node says cluster_state:ok and lists the same masters and replicas, with
   * `masters` masters and `masters × replicas` replicas (none failing), and every replica's link
   * to its master is up. A failover needs the others to know who replicates whom: they vote.
   */
  private async settled(masters: number, replicas: number): Promise<boolean> {
    const live = this.livePorts();
    const infos = await Promise.all(live.map((p) => this.cli(p, 'CLUSTER', 'INFO')));
    if (!infos.every((info) => /^cluster_state:ok\s*$/m.test(info))) return false;
    const views = await Promise.all(live.map((p) => this.nodes(p)));
    const signature = (view: ClusterNode[]) =>
      view
        .filter((n) => !n.failing)
        .map((n) => `${n.id} ${n.role} ${n.masterId ?? '-'}`)
        .sort()
        .join('\n');
    const first = views[0]!.filter((n) => !n.failing);
    if (first.filter((n) => n.role === 'master' && n.slots.length).length !== masters) return false;
    if (first.filter((n) => n.role === 'replica').length !== masters * replicas) return false;
    if (!views.every((v) => signature(v) === signature(views[0]!))) return false;
    for (const r of first.filter((n) => n.role === 'replica')) {
      if (!/^master_link_status:up\s*$/m.test(await this.cli(r.port, 'INFO', 'replication'))) return false;
    }
    return true;
  }

  /** REDIS_URL for Parley: every node as a seed. */
  get url(): string {
    return this.ports.map((p) => `redis://127.0.0.1:${p}`).join(',');
  }

  private proc(port: number): Proc {
    const i = this.ports.indexOf(port);
    if (i < 0) throw new Error(`no node of this cluster listens on ${port}`);
    return this.procs[i]!;
  }

  /** Ports of the nodes that answer: running and not frozen. */
  livePorts(): number[] {
    return this.ports.filter((p) => this.proc(p).running && !this.frozen.has(p));
  }

  /** One command to one node through redis-cli (no cluster redirection), its reply trimmed. */
  async cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
      timeout: 5000,
    });
    return stdout.trim();
  }

  /** The cluster as one node (by default the first live one) sees it: CLUSTER NODES. */
  async nodes(viaPort = this.livePorts()[0]!): Promise<ClusterNode[]> {
    return parseClusterNodes(await this.cli(viaPort, 'CLUSTER', 'NODES'));
  }

  /** The hash slot of a key (a hash tag's slot for any key carrying it). */
  async slotOf(key: string): Promise<number> {
    return Number(await this.cli(this.livePorts()[0]!, 'CLUSTER', 'KEYSLOT', key));
  }

  /** The master that owns a slot, or a key's slot, as a live node sees it now. */
  async masterOf(slotOrKey: number | string): Promise<ClusterNode> {
    const slot = typeof slotOrKey === 'number' ? slotOrKey : await this.slotOf(slotOrKey);
    const owner = (await this.nodes()).find(
      (n) => n.role === 'master' && n.slots.some(([from, to]) => from <= slot && slot <= to),
    );
    if (!owner) throw new Error(`no master owns slot ${slot}`);
    return owner;
  }

  /** The replicas of a master, as a live node sees them now. */
  async replicasOf(master: ClusterNode): Promise<ClusterNode[]> {
    return (await this.nodes()).filter((n) => n.role === 'replica' && n.masterId === master.id);
  }

  /** SIGKILL a node, as a crashed machine would go: no goodbye to clients or to the cluster. */
  async kill(port: number): Promise<void> {
    const proc = this.proc(port);
    proc.signal('SIGKILL');
    this.frozen.delete(port);
    if (!(await proc.waitExit(5000))) throw new Error(`redis-server on ${port} survived SIGKILL for 5 s`);
  }

  /**
   * SIGSTOP a node, as a hung machine or a network partition looks to the others: its connections
   * stay open but nothing is answered, so clients learn nothing until they ask someone else.
   */
  freeze(port: number): void {
    const proc = this.proc(port);
    if (!proc.running) throw new Error(`redis-server on ${port} is not running`);
    proc.signal('SIGSTOP');
    this.frozen.add(port);
  }

  /** SIGCONT a frozen node: it finds it was failed over and rejoins as a replica. */
  thaw(port: number): void {
    if (!this.frozen.delete(port)) return;
    this.proc(port).signal('SIGCONT');
  }

  /** Starts a node killed earlier again, on its port and with its nodes file: it rejoins the cluster. */
  async restart(port: number, timeoutMs = 10_000): Promise<void> {
    const proc = this.proc(port);
    if (proc.running) throw new Error(`redis-server on ${port} is still running`);
    proc.start();
    const up = await until(() => this.cli(port, 'PING').then((r) => r === 'PONG'), timeoutMs);
    if (!up) throw new Error(`redis-server on ${port} did not restart:\n${proc.tail()}`);
  }

  /**
   * A manual failover: `CLUSTER FAILOVER` on a replica, which waits for it to catch up with its
   * master before the two swap roles, so no acknowledged write is lost.
   */
  async failover(replicaPort: number, timeoutMs = 10_000): Promise<void> {
    const reply = await this.cli(replicaPort, 'CLUSTER', 'FAILOVER');
    if (reply !== 'OK') throw new Error(`CLUSTER FAILOVER on ${replicaPort} answered ${reply}`);
    const done = await until(async () => {
      const me = (await this.nodes(replicaPort)).find((n) => n.port === replicaPort);
      return me?.role === 'master' && me.slots.length > 0;
    }, timeoutMs);
    if (!done) throw new Error(`the replica on ${replicaPort} was not promoted within ${timeoutMs} ms`);
  }

  /**
   * Waits until every live node lists `replicaPort` as a replica of `masterPort` and the replica's
   * link to it is up (a node restarted after its replica took over comes back as that replica).
   */
  async awaitReplicaOf(replicaPort: number, masterPort: number, timeoutMs: number): Promise<void> {
    const ok = await until(async () => {
      const views = await Promise.all(this.livePorts().map((p) => this.nodes(p)));
      const linked = views.every((view) => {
        const master = view.find((n) => n.port === masterPort);
        const replica = view.find((n) => n.port === replicaPort);
        return master && !replica?.failing && replica?.role === 'replica' && replica.masterId === master.id;
      });
      const info = await this.cli(replicaPort, 'INFO', 'replication');
      return linked && /^master_link_status:up\s*$/m.test(info);
    }, timeoutMs);
    if (!ok)
      throw new Error(
        `${replicaPort} did not become an in-sync replica of ${masterPort} within ${timeoutMs} ms`,
      );
  }

  /**
   * Waits until every live node says cluster_state:ok and names the same master for `slot`,
   * one other than `formerPort`, and returns it. Throws after `timeoutMs`.
   */
  async awaitNewMaster(slot: number, formerPort: number, timeoutMs: number): Promise<ClusterNode> {
    let found: ClusterNode | undefined;
    const ok = await until(async () => {
      const live = this.livePorts();
      const infos = await Promise.all(live.map((p) => this.cli(p, 'CLUSTER', 'INFO')));
      if (!infos.every((info) => /^cluster_state:ok\s*$/m.test(info))) return false;
      const owners = await Promise.all(
        live.map(async (p) =>
          (await this.nodes(p)).find(
            (n) => n.role === 'master' && n.slots.some(([from, to]) => from <= slot && slot <= to),
          ),
        ),
      );
      const port = owners[0]?.port;
      if (port === undefined || port === formerPort || !owners.every((o) => o?.port === port)) return false;
      found = owners[0];
      return true;
    }, timeoutMs);
    if (!ok || !found)
      throw new Error(`no node took over slot ${slot} from ${formerPort} within ${timeoutMs} ms`);
    return found;
  }

  async stop(): Promise<void> {
    // A stopped process would not act on SIGTERM until continued.
    for (const port of [...this.frozen]) this.thaw(port);
    await Promise.all(this.procs.map((p) => p.stop(3000)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
