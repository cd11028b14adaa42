/**
 * Thread reads alone: `npx tsx bench/reads.ts [seconds] [rounds]` starts one API process, seeds a
 * 40-comment thread and drives the warm page with autocannon (64 connections), printing reads per
 * second, p99 and the API's CPU ms per read for each round.
 *
 * `BENCH_COMPARE_ROOT=/path/to/other/checkout` starts a second API from that tree (sharing this
 * database) and alternates rounds between the two, so a change to the read path is measured
 * against the old code in the same minutes. The other tree needs node_modules (a symlink to this
 * checkout's will do). Loopback only; each round is bounded by its duration.
 */
import path from 'node:path';
import autocannon from 'autocannon';
import { createDb, dropDatabase, ensureDatabase } from '../db/database';
import { cpuPer, cpuSnapshot } from './lib/cpu';
import { benchSetup, type Child, freePort, ROOT, startChild, waitReady } from './lib/procs';
import { deleteKeysWithPrefix } from './lib/redis-keys';
import { makeSite, seedThread } from './lib/seed';

const seconds = Math.min(Number(process.argv[2] ?? 8), 60);
const rounds = Math.min(Number(process.argv[3] ?? 3), 20);
const compareRoot = process.env.BENCH_COMPARE_ROOT;
const ORIGIN = 'https://bench.example';

async function main() {
  const setup = await benchSetup('reads');
  await ensureDatabase(setup.dbUrl);
  const children: Child[] = [];
  const db = createDb({ url: setup.dbUrl, poolMax: 2 });
  try {
    const builds: { name: string; child: Child; port: number }[] = [];
    const start = async (name: string, root: string, port: number) => {
      const child = startChild(
        `api-${name}`,
        'src/server.ts',
        { ...setup.env, PORT: String(port) },
        [],
        root,
      );
      children.push(child);
      await waitReady(child, `http://127.0.0.1:${port}/healthz`);
      builds.push({ name, child, port });
    };
    // The first start migrates the database; start the builds one after the other.
    await start('this', ROOT, setup.port);
    if (compareRoot) await start(path.basename(compareRoot), compareRoot, await freePort());

    const siteId = await makeSite(db, ORIGIN);
    await seedThread(db, siteId, 'bench-read', 40);
    const threadPath = `/api/v1/sites/${siteId}/articles/bench-read/comments?order=newest`;

    for (const b of builds) {
      await autocannon({ url: `http://127.0.0.1:${b.port}${threadPath}`, connections: 64, duration: 2 });
    }
    for (let r = 0; r < rounds; r++) {
      for (const b of r % 2 ? [...builds].reverse() : builds) {
        const pid = b.child.proc.pid ?? 0;
        const before = cpuSnapshot([pid]);
        const res = await autocannon({
          url: `http://127.0.0.1:${b.port}${threadPath}`,
          connections: 64,
          duration: seconds,
        });
        const ok = res['2xx'];
        const cpu = cpuPer(before, cpuSnapshot([pid]), ok);
        console.log(
          JSON.stringify({
            round: r + 1,
            build: b.name,
            readsPerSecond: Math.round(ok / seconds),
            p99Ms: res.latency.p99,
            apiCpuMsPerRead: cpu.process,
            non2xx: res.non2xx,
            errors: res.errors,
          }),
        );
      }
    }
  } finally {
    for (const c of children) await c.stop();
    await db.destroy();
    await deleteKeysWithPrefix(setup.redisUrl, [setup.prefix]);
    await dropDatabase(setup.dbUrl);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
