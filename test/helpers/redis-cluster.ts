/**
 * A private Redis Cluster for tests: three masters (no replicas) started from the machine's
 * redis-server on free loopback ports, in a temp dir, so a test can run Parley on a real cluster
 * without touching the shared Redis. Processes and files go away in stop().
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

export class PrivateRedisCluster {
  private constructor(
    readonly dir: string,
    readonly ports: number[],
    private readonly procs: Proc[],
  ) {}

  /** Why the cluster cannot run here (no redis-server or redis-cli on PATH), or null. */
  static unavailable(): string | null {
    for (const bin of ['redis-server', 'redis-cli']) {
      const r = spawnSync(bin, ['--version'], { stdio: 'pipe', timeout: 5000 });
      if (r.error || r.status !== 0)
        return `${bin} is not on PATH (${r.error?.message ?? `exit ${r.status}`})`;
    }
    return null;
  }

  /** Starts `masters` nodes, joins them into one cluster and waits until every node says ok. */
  static async start(masters = 3, timeoutMs = 20_000): Promise<PrivateRedisCluster> {
    const deadline = Date.now() + timeoutMs;
    const dir = mkdtempSync(join(tmpdir(), 'parley-redis-cluster-'));
    // Each node needs a client port and a cluster bus port (cluster-port, Redis 7): both chosen
    // free rather than the default port + 10000, which may be taken or past 65535.
    const all = await distinctFreePorts(masters * 2);
    const ports = all.slice(0, masters);
    const procs = ports.map(
      (port, i) =>
        new Proc(
          `redis-${port}`,
          'redis-server',
          [
            '--port',
            String(port),
            '--cluster-port',
            String(all[masters + i]),
            '--bind',
            '127.0.0.1',
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            '2000',
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
        if (!up)
          throw new Error(`redis-server on ${port} did not start:\n${procs[ports.indexOf(port)]!.tail()}`);
      }
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((p) => `127.0.0.1:${p}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { timeout: Math.max(1000, deadline - Date.now()) },
      );
      const ok = await until(async () => {
        const infos = await Promise.all(ports.map((p) => cluster.cli(p, 'CLUSTER', 'INFO')));
        return infos.every((info) => /^cluster_state:ok\s*$/m.test(info));
      }, deadline - Date.now());
      if (!ok) throw new Error(`the cluster did not reach cluster_state:ok within ${timeoutMs} ms`);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** REDIS_URL for Parley: every node as a seed. */
  get url(): string {
    return this.ports.map((p) => `redis://127.0.0.1:${p}`).join(',');
  }

  /** One command to one node through redis-cli (no cluster redirection), its reply trimmed. */
  async cli(port: number, ...args: string[]): Promise<string> {
    const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
      timeout: 5000,
    });
    return stdout.trim();
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop(3000)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
