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

export interface MigrateSlotOptions {
  /** Keys per MIGRATE (default 10), as `redis-cli --cluster reshard --cluster-pipeline`. */
  batch?: number;
  /** Pause after each batch (default 0), so a test can stretch the move over seconds of load. */
  pauseMs?: number;
  /** Bound on the whole move (default 30 s). */
  timeoutMs?: number;
}

/** What migrateSlot did. */
export interface SlotMigration {
  from: ClusterNode;
  to: ClusterNode;
  /** Keys moved, and in how many MIGRATE calls. */
  keys: number;
  batches: number;
  /** When the target was marked importing, and when the last master was told the new owner (ms since the epoch). */
  startedAt: number;
  endedAt: number;
}

/** A redis-cli reply that must be OK: redis-cli prints error replies on stdout and exits 0. */
function expectOk(reply: string, what: string): void {
  if (reply !== 'OK') throw new Error(`${what} answered: ${reply}`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
   * master before the two swap roles, so no acknowledged write is lost. With `takeover`,
   * `CLUSTER FAILOVER TAKEOVER`: the replica promotes itself at once, with no word from its master
   * (which may be dead) nor a vote of the others, keeping only what it had received.
   */
  async failover(
    replicaPort: number,
    timeoutMs = 10_000,
    mode: 'default' | 'takeover' = 'default',
  ): Promise<void> {
    const isMaster = async () => {
      const me = (await this.nodes(replicaPort)).find((n) => n.port === replicaPort);
      return me?.role === 'master' && me.slots.length > 0;
    };
    const args = mode === 'takeover' ? ['CLUSTER', 'FAILOVER', 'TAKEOVER'] : ['CLUSTER', 'FAILOVER'];
    const reply = await this.cli(replicaPort, ...args);
    // An automatic failover may have promoted it first; that is the outcome asked for.
    if (reply !== 'OK' && !(mode === 'takeover' && (await isMaster())))
      throw new Error(`${args.join(' ')} on ${replicaPort} answered ${reply}`);
    const done = await until(isMaster, timeoutMs);
    if (!done) throw new Error(`the replica on ${replicaPort} was not promoted within ${timeoutMs} ms`);
  }

  /**
   * Stops a replica from receiving any more of its master's writes while both stay up, so the
   * master acknowledges writes the replica never gets: the replica is frozen (SIGSTOP) and then
   * the master drops its replication links (CLIENT KILL TYPE replica). Freezing alone is not
   * enough: the master goes on writing into the frozen replica's socket, the kernel keeps those
   * bytes even after the master dies, and the thawed replica applies them. Dropping the link alone
   * is not enough either: the replica reconnects within a second and catches up (PSYNC). Thaw it
   * with thaw(); it then finds its master gone, or catches up if the master still runs.
   */
  async isolateReplica(replicaPort: number, timeoutMs = 5000): Promise<void> {
    const view = await this.nodes();
    const replica = view.find((n) => n.port === replicaPort);
    const master = view.find((n) => n.id === replica?.masterId);
    if (replica?.role !== 'replica' || !master)
      throw new Error(`${replicaPort} is not a replica of a known master`);
    this.freeze(replicaPort);
    const killed = await this.cli(master.port, 'CLIENT', 'KILL', 'TYPE', 'replica');
    if (!/^\d+$/.test(killed))
      throw new Error(`CLIENT KILL TYPE replica on ${master.port} answered ${killed}`);
    const gone = await until(
      async () => /^connected_slaves:0\s*$/m.test(await this.cli(master.port, 'INFO', 'replication')),
      timeoutMs,
    );
    if (!gone) throw new Error(`${master.port} still lists a replica ${timeoutMs} ms after CLIENT KILL`);
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

  /**
   * Moves `slot` from its master to the master on `toPort`, by hand as `redis-cli --cluster
   * reshard` does: IMPORTING on the target, MIGRATING on the source, then the slot's keys in
   * batches (CLUSTER GETKEYSINSLOT, MIGRATE … KEYS …), then SETSLOT … NODE on the target, the
   * source and every other master. While it runs, the source answers for the keys it still has
   * and sends ASK for the others; a command over several keys split between the two gets TRYAGAIN.
   */
  async migrateSlot(slot: number, toPort: number, opts: MigrateSlotOptions = {}): Promise<SlotMigration> {
    const batch = opts.batch ?? 10;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const from = await this.masterOf(slot);
    const to = (await this.nodes()).find((n) => n.port === toPort);
    if (to?.role !== 'master') throw new Error(`${toPort} is not a master of this cluster`);
    if (to.id === from.id) throw new Error(`slot ${slot} is already on ${toPort}`);
    const s = String(slot);
    const startedAt = Date.now();
    // Importing first: once the source starts sending ASK, the target must accept the redirected commands.
    expectOk(
      await this.cli(to.port, 'CLUSTER', 'SETSLOT', s, 'IMPORTING', from.id),
      `SETSLOT IMPORTING on ${to.port}`,
    );
    expectOk(
      await this.cli(from.port, 'CLUSTER', 'SETSLOT', s, 'MIGRATING', to.id),
      `SETSLOT MIGRATING on ${from.port}`,
    );
    let keys = 0;
    let batches = 0;
    for (;;) {
      if (Date.now() > deadline)
        throw new Error(`slot ${slot}: keys still on ${from.port} after ${timeoutMs} ms`);
      const listed = (await this.cli(from.port, 'CLUSTER', 'GETKEYSINSLOT', s, String(batch)))
        .split('\n')
        .filter(Boolean);
      if (!listed.length) break;
      // MIGRATE host port "" db timeout KEYS …: atomic per key (DUMP, RESTORE on the target, DEL).
      const reply = await this.cli(
        from.port,
        'MIGRATE',
        '127.0.0.1',
        String(to.port),
        '',
        '0',
        '5000',
        'KEYS',
        ...listed,
      );
      if (reply !== 'OK' && reply !== 'NOKEY')
        throw new Error(`MIGRATE of ${listed.length} keys answered: ${reply}`);
      keys += listed.length;
      batches++;
      if (opts.pauseMs) await sleep(opts.pauseMs);
    }
    // The target first, so it owns the slot before the source stops sending ASK (redis-cli's
    // order); the source refuses while it still holds a key of the slot.
    expectOk(await this.cli(to.port, 'CLUSTER', 'SETSLOT', s, 'NODE', to.id), `SETSLOT NODE on ${to.port}`);
    expectOk(
      await this.cli(from.port, 'CLUSTER', 'SETSLOT', s, 'NODE', to.id),
      `SETSLOT NODE on ${from.port}`,
    );
    const others = (await this.nodes()).filter(
      (n) => n.role === 'master' && !n.failing && n.id !== from.id && n.id !== to.id,
    );
    for (const n of others)
      expectOk(await this.cli(n.port, 'CLUSTER', 'SETSLOT', s, 'NODE', to.id), `SETSLOT NODE on ${n.port}`);
    return { from, to, keys, batches, startedAt, endedAt: Date.now() };
  }

  async stop(): Promise<void> {
    // A stopped process would not act on SIGTERM until continued.
    for (const port of [...this.frozen]) this.thaw(port);
    await Promise.all(this.procs.map((p) => p.stop(3000)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
