/**
 * Latency of one comment at a time on an idle system: `npx tsx bench/latency.ts` starts one API
 * and one workers process (fresh database and queue prefix, loopback only), posts 40 comments
 * 100 ms apart and prints the medians of: request to 202, request to the comment's created_at,
 * created_at to its moderate job's creation (after commit), and created_at to decided_at; then the first ten
 * comments' figures. Everything is removed at the end. It separates the pipeline's own latency
 * from what load adds (compare the end-to-end p50 of `npm run bench`).
 */
import { Queue } from 'bullmq';
import { sql } from 'kysely';
import { createDb, dropDatabase, ensureDatabase } from '../db/database';
import { moderateJobComments } from '../src/queue';
import { createSite } from '../src/repositories/sites';
import { benchSetup, type Child, startApiAndWorkers } from './lib/procs';
import { deleteKeysWithPrefix } from './lib/redis-keys';

const { dbUrl, prefix, port, redisUrl, env } = await benchSetup('latency');
await ensureDatabase(dbUrl);
const db = createDb({ url: dbUrl, poolMax: 2 });
const children: Child[] = [];
try {
  await startApiAndWorkers(env, port, children);
  const site = await db
    .transaction()
    .execute((trx) => createSite(trx, { name: 'B', allowedOrigins: ['https://b.example'] }));
  await new Promise((r) => setTimeout(r, 3000));
  const sent: Array<{ id: string; t0: number; t202: number }> = [];
  for (let i = 0; i < 40; i++) {
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/sites/${site.id}/articles/a${i % 3}/comments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://b.example' },
      body: JSON.stringify({
        authorName: `R${i}`,
        authorEmail: `r${i}@x.example`,
        body: `A perfectly normal comment number ${i} about the article.`,
      }),
    });
    const j = (await res.json()) as { id: string };
    sent.push({ id: j.id, t0, t202: Date.now() });
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 2000));
  const rows = await sql<{
    id: string;
    c: Date;
    d: Date | null;
  }>`select c.id, c.created_at c, c.decided_at d from comments c`.execute(db);
  const by = new Map(rows.rows.map((r) => [r.id, r]));
  const queue = new Queue('moderate', { connection: { url: env.REDIS_URL }, prefix: env.QUEUE_PREFIX });
  const jobs = await queue.getJobs(['completed', 'waiting', 'active'], 0, -1);
  await queue.close();
  const addedAt = new Map(
    jobs.flatMap((j) => moderateJobComments(j.data).map((c) => [c.commentId, j.timestamp] as const)),
  );
  const lines = sent.map((s) => {
    const r = by.get(s.id)!;
    return {
      http202: s.t202 - s.t0,
      sendToCreated: r.c.getTime() - s.t0,
      createdToJobAdded: addedAt.has(s.id) ? addedAt.get(s.id)! - r.c.getTime() : -1,
      createdToDecided: r.d ? r.d.getTime() - r.c.getTime() : -1,
    };
  });
  const med = (k: keyof (typeof lines)[0]) =>
    lines.map((l) => l[k]).sort((a, b) => a - b)[Math.floor(lines.length / 2)];
  console.log(
    JSON.stringify({
      http202: med('http202'),
      sendToCreated: med('sendToCreated'),
      createdToJobAdded: med('createdToJobAdded'),
      createdToDecided: med('createdToDecided'),
    }),
  );
  console.log(
    lines
      .slice(0, 10)
      .map((l) => JSON.stringify(l))
      .join('\n'),
  );
} finally {
  await Promise.all(children.map((c) => c.stop().catch(() => {})));
  await db.destroy();
  await dropDatabase(dbUrl).catch(() => {});
  await deleteKeysWithPrefix(redisUrl, [prefix]).catch(() => {});
}
process.exit(0);
