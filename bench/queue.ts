/**
 * The moderator's queue under load: `npm run bench:queue -- [held] [moderators] [seconds]` starts
 * Parley's API and workers processes on a fresh database holding `held` held comments (default
 * 20,000, over 20 articles) and measures, over loopback:
 *
 * 1. listing: a queue page of 50 (the workspace's first request) from 8 clients for 5 s, then the
 *    same filtered by article, then the tenth page by cursor: requests per second and p50/p99;
 * 2. clearing: `moderators` moderators (default 16, each with a token of their own) who each
 *    claim the next item and approve or reject it, as fast as they can for `seconds` (default 20):
 *    decisions per second, p50/p99 of the claim and of the decision, and two checks the workspace
 *    promises: no item was handed to two moderators, and no comment got two moderator decisions.
 *
 * Fresh database and queue prefix, loopback only, bounded in count and time, everything removed
 * at the end. The last line is one JSON object.
 */
import { sql } from 'kysely';
import { createDb, dropDatabase, ensureDatabase } from '../db/database';
import { createToken } from '../src/repositories/tokens';
import { cpuPer, cpuSnapshot } from './lib/cpu';
import { percentile } from './lib/open-loop';
import { benchSetup, type Child, startApiAndWorkers } from './lib/procs';
import { deleteKeysWithPrefix } from './lib/redis-keys';
import { makeSite, seedHeld } from './lib/seed';

const held = Math.min(200_000, Math.max(100, Number(process.argv[2] ?? 20_000)));
const moderators = Math.min(64, Math.max(1, Number(process.argv[3] ?? 16)));
const seconds = Math.min(60, Math.max(1, Number(process.argv[4] ?? 20)));
const ARTICLES = 20;
const LIST_CLIENTS = 8;
const LIST_SECONDS = 5;

const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const round1 = (n: number) => Math.round(n * 10) / 10;
const summary = (xs: number[]) => ({ p50Ms: round1(percentile(xs, 50)), p99Ms: round1(percentile(xs, 99)) });

const { dbUrl, prefix, port, redisUrl, env } = await benchSetup('queue');
await ensureDatabase(dbUrl);
const db = createDb({ url: dbUrl, poolMax: 4 });
const children: Child[] = [];
let failed = false;
try {
  await startApiAndWorkers(env, port, children);
  const siteId = await makeSite(db, 'https://bench.example');
  log(`seeding ${held} held comments over ${ARTICLES} articles`);
  await seedHeld(db, env.PARLEY_SECRET!, siteId, held, ARTICLES);
  // As autovacuum would have by the time moderators open the queue (this machine runs without it).
  await sql`vacuum analyze comments`.execute(db);
  const tokens = await Promise.all(
    Array.from({ length: moderators }, (_, i) =>
      createToken(db, { siteId, role: 'moderator', name: `moderator ${i}` }).then((t) => t.token),
    ),
  );
  const base = `http://127.0.0.1:${port}/api/v1/moderation/sites/${siteId}`;
  const call = async (token: string, method: string, path: string, body?: unknown) => {
    const started = performance.now();
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, text, ms: performance.now() - started };
  };
  const server = children.map((c) => c.proc.pid ?? 0);

  /** `clients` loops over one request for LIST_SECONDS; every answer must be a 200. */
  const listPhase = async (name: string, path: string) => {
    const times: number[] = [];
    let errors = 0;
    const until = performance.now() + LIST_SECONDS * 1000;
    const before = cpuSnapshot(server);
    await Promise.all(
      Array.from({ length: LIST_CLIENTS }, async (_, i) => {
        while (performance.now() < until && times.length < 200_000) {
          const r = await call(tokens[i % tokens.length]!, 'GET', path);
          if (r.status === 200) times.push(r.ms);
          else errors++;
        }
      }),
    );
    const result = {
      requestsPerSecond: Math.round(times.length / LIST_SECONDS),
      ...summary(times),
      non200: errors,
      cpuMsPerRequest: cpuPer(before, cpuSnapshot(server), times.length),
    };
    log(`list ${name}: ${JSON.stringify(result)}`);
    return result;
  };

  log('listing');
  await call(tokens[0]!, 'GET', '/queues/held?limit=50');
  const firstArticle = await db
    .selectFrom('articles')
    .select('external_id')
    .where('site_id', '=', siteId)
    .orderBy('external_id')
    .executeTakeFirstOrThrow();
  let cursor: string | null = null;
  for (let page = 1; page < 10; page++) {
    const r = await call(tokens[0]!, 'GET', `/queues/held?limit=50${cursor ? `&cursor=${cursor}` : ''}`);
    cursor = (JSON.parse(r.text) as { nextCursor: string | null }).nextCursor;
  }
  const listing = {
    firstPage: await listPhase('first page', '/queues/held?limit=50'),
    byArticle: await listPhase(
      'by article',
      `/queues/held?limit=50&article=${encodeURIComponent(firstArticle.external_id)}`,
    ),
    tenthPage: await listPhase('tenth page', `/queues/held?limit=50&cursor=${cursor}`),
    counts: await listPhase('counts', '/queues'),
  };

  log(`clearing: ${moderators} moderators for ${seconds}s`);
  const claims: number[] = [];
  const decisions: number[] = [];
  const handedTo = new Map<string, number>();
  let twice = 0;
  let refused = 0;
  let empty = 0;
  const before = cpuSnapshot(server);
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    tokens.map(async (token, m) => {
      let n = 0;
      while (performance.now() < until && n < 100_000) {
        const next = await call(token, 'POST', '/queues/held/next', {});
        if (next.status === 204) {
          empty++;
          break;
        }
        if (next.status !== 200) {
          refused++;
          continue;
        }
        claims.push(next.ms);
        const id = (JSON.parse(next.text) as { item: { id: string } }).item.id;
        if (handedTo.has(id) && handedTo.get(id) !== m) twice++;
        handedTo.set(id, m);
        const verdict =
          n++ % 4 === 3
            ? await call(token, 'POST', `/comments/${id}/reject`, { reasonCode: 'offensive' })
            : await call(token, 'POST', `/comments/${id}/approve`, {});
        if (verdict.status === 200) decisions.push(verdict.ms);
        else refused++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const doubled = await sql<{ n: string }>`
    select count(*)::text as n from (
      select comment_id from moderation_decisions
      where site_id = ${siteId} and actor_type = 'moderator'
      group by comment_id having count(*) > 1) d`.execute(db);
  const clearing = {
    moderators,
    seconds: round1(elapsed),
    decisions: decisions.length,
    decisionsPerSecond: Math.round(decisions.length / elapsed),
    claim: summary(claims),
    decide: summary(decisions),
    refused,
    queueEmptied: empty > 0,
    handedToTwoModerators: twice,
    commentsDecidedTwice: Number(doubled.rows[0]?.n ?? 0),
    cpuMsPerDecision: cpuPer(before, cpuSnapshot(server), decisions.length),
  };
  log(`clearing: ${JSON.stringify(clearing)}`);
  if (twice || clearing.commentsDecidedTwice) failed = true;
  console.log(
    JSON.stringify({
      held,
      articles: ARTICLES,
      listing,
      clearing,
      note: 'one shared machine: compare within one run',
    }),
  );
} catch (err) {
  failed = true;
  console.error('bench/queue failed:', err);
} finally {
  await Promise.all(children.map((c) => c.stop().catch(() => {})));
  await db.destroy();
  await dropDatabase(dbUrl).catch(() => {});
  await deleteKeysWithPrefix(redisUrl, [prefix]).catch(() => {});
}
process.exit(failed ? 1 : 0);
