/**
 * Flood-control counters alone: `npx tsx bench/rate-limit.ts` times the submission's three counters
 * (IP, author, article) through Parley's limiter (the counters of all requests of one turn of the
 * event loop in one script call, on a plain client, as the API runs it) and through the design it
 * replaced first (one rate-limiter-flexible RateLimiterRedis per scope, three calls, on an
 * auto-pipelined client), 64 requests in flight. Prints CPU ms of this process per request.
 * Loopback Redis only; its keys are removed at the end.
 */
import { Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createRateLimiter, type Limit, type LimitScope, type RateLimiter } from '../src/lib/rate-limit';

const url = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
if (!/^redis:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(url))
  throw new Error('BENCH_REDIS_URL must be loopback');
const big: Limit = { points: 1e9, durationSeconds: 60 };
const limits: Record<LimitScope, Limit> = {
  submit_ip: big,
  submit_author: big,
  submit_article: big,
  report_ip: big,
  report_comment: big,
};
const redis = new Redis(url, {
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
});
const plain = new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
await Promise.all([redis, plain].map((c) => new Promise((r) => c.once('ready', r))));
const tag = `{rl-bench-${process.pid}}`;

/** The previous design: three independent limiters, one Redis call each. */
function threeLimiters(prefix: string): RateLimiter {
  const make = (scope: string) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${prefix}:${scope}`,
      points: big.points,
      duration: 60,
    });
  const byScope = new Map(['submit_ip', 'submit_author', 'submit_article'].map((s) => [s, make(s)]));
  return {
    async consume(hits) {
      await Promise.allSettled(
        Object.entries(hits).map(([scope, key]) => byScope.get(scope)!.consume(String(key))),
      );
    },
  };
}

async function run(name: string, rl: RateLimiter, n = 20_000, inFlight = 64) {
  const hit = (i: number) =>
    rl.consume({
      submit_ip: `s:${i % 997}`,
      submit_author: `s:a${i % 991}`,
      submit_article: `s:art${i % 10}`,
    });
  for (let i = 0; i < 1000; i++) await hit(i);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let k = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (k < n) await hit(k++);
    }),
  );
  const cpu = process.cpuUsage(c0);
  const ms = performance.now() - t0;
  return {
    name,
    cpuMsPerRequest: Number(((cpu.user + cpu.system) / 1000 / n).toFixed(4)),
    perSecond: Math.round((n / ms) * 1000),
  };
}

const results = [];
try {
  for (let round = 0; round < 2; round++) {
    results.push(await run('three RateLimiterRedis', threeLimiters(`${tag}:old${round}`)));
    results.push(await run('one script (Parley)', createRateLimiter(plain, limits, `${tag}:new${round}`)));
  }
  for (const r of results)
    console.log(`${r.name.padEnd(24)} ${r.cpuMsPerRequest} CPU ms/request  ${r.perSecond}/s`);
  console.log(JSON.stringify(results));
} finally {
  let cursor = '0';
  let rounds = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${tag}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0' && ++rounds < 10_000);
  redis.disconnect();
  plain.disconnect();
}
