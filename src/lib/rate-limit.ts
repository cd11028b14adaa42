/**
 * Flood control for submissions and reader reports: fixed windows per IP hash, per author and per
 * article (submissions) or per comment (reports), counted in Redis so every API replica shares
 * them, all of a request's counters in one script call. While Redis is away each process falls back
 * to in-memory limiters of the same shape (rate-limiter-flexible's RateLimiterMemory), so a flood
 * during an outage is still slowed.
 *
 * Keys are hashes and ids only: the plain IP never reaches Redis.
 */
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config';
import type { Policy } from '../moderation/policy';
import type { RedisClient } from '../queue';
import { AppError } from './errors';
import { metrics } from './metrics';

export type LimitScope = 'submit_ip' | 'submit_author' | 'submit_article' | 'report_ip' | 'report_comment';

export interface Limit {
  points: number;
  durationSeconds: number;
}

/** Parses "points/seconds" (validated by the config schema). */
export function parseLimit(spec: string): Limit {
  const [p, d] = spec.split('/');
  return { points: Number(p), durationSeconds: Math.max(1, Number(d)) };
}

export interface RateLimiter {
  /**
   * Counts one hit on each given key; throws AppError 429 (with Retry-After) if any key is over
   * its limit. Keys left undefined (no IP known, no author) are not counted.
   */
  consume(
    hits: Partial<Record<LimitScope, string | null | undefined>>,
    /** Limits in place of the server's for this request's scopes (a site's own; 0 points: off). */
    overrides?: Partial<Record<LimitScope, Limit>>,
  ): Promise<void>;
}

export function limitsFromConfig(config: Config): Record<LimitScope, Limit> {
  return {
    submit_ip: parseLimit(config.RATE_SUBMIT_PER_IP),
    submit_author: parseLimit(config.RATE_SUBMIT_PER_AUTHOR),
    submit_article: parseLimit(config.RATE_SUBMIT_PER_ARTICLE),
    report_ip: parseLimit(config.RATE_REPORT_PER_IP),
    report_comment: parseLimit(config.RATE_REPORT_PER_COMMENT),
  };
}

/**
 * Counts keys in one Redis call: INCR each counter, start its window (PEXPIRE) on the first hit,
 * and return [count, ms left] per key, in order (a key listed twice is counted twice, in turn).
 * One call carries the counters of every request that reached the limiter in the same turn of the
 * event loop (see `createRateLimiter`). Keys share the queue prefix's hash tag, so on Redis Cluster
 * they live in one slot.
 */
const COUNT_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local ms = tonumber(ARGV[i])
  local n = redis.call('INCR', key)
  local ttl
  if n == 1 then
    redis.call('PEXPIRE', key, ms)
    ttl = ms
  else
    ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, ms)
      ttl = ms
    end
  end
  out[2 * i - 1] = n
  out[2 * i] = ttl
end
return out`;

/** Requests per script call: at most three keys each, so a call counts at most 600 keys. */
const MAX_GROUP = 200;

type CountingRedis = RedisClient & { parleyRateCount(...args: (string | number)[]): Promise<number[]> };

function countingClient(redis: RedisClient): CountingRedis {
  const r = redis as CountingRedis;
  if (typeof r.parleyRateCount !== 'function') redis.defineCommand('parleyRateCount', { lua: COUNT_SCRIPT });
  return r;
}

export function createRateLimiter(
  redis: RedisClient,
  limits: Record<LimitScope, Limit>,
  keyPrefix = 'parley-rl',
): RateLimiter {
  // While Redis is away each process counts in memory, in windows of the same shape: one
  // insurance limiter per scope and shape, made when a limit of that shape is first used.
  const insurance = new Map<string, RateLimiterMemory>();
  const memoryLimiter = (scope: LimitScope, limit: Limit) => {
    const name = `${scope}:${limit.points}/${limit.durationSeconds}`;
    let m = insurance.get(name);
    if (!m) {
      m = new RateLimiterMemory({
        keyPrefix: `${keyPrefix}:${scope}`,
        points: limit.points,
        duration: limit.durationSeconds,
      });
      insurance.set(name, m);
    }
    return m;
  };
  const client = countingClient(redis);

  type Entry = [LimitScope, string, Limit];
  interface Waiting {
    entries: Entry[];
    resolve: (reply: number[]) => void;
    reject: (err: unknown) => void;
  }

  // Requests that reach the limiter in one turn of the event loop share one script call, sent once
  // the turn's I/O callbacks have run (setImmediate). ioredis's auto-pipelining grouped the same
  // calls into one write, but kept a command, a reply and a promise per request, and its per-turn
  // Pipeline objects made the requests' short-lived objects outlive young-generation collections
  // (docs/performance.md, round 18). A group is capped so one script stays short.
  let waiting: Waiting[] = [];
  const flush = () => {
    const all = waiting;
    waiting = [];
    for (let at = 0; at < all.length; at += MAX_GROUP) sendGroup(all.slice(at, at + MAX_GROUP));
  };
  const sendGroup = (group: Waiting[]) => {
    // Key names as rate-limiter-flexible wrote them, so counters carry over an upgrade. A site that
    // changes a window keeps its key: the old window runs out, and the next one has the new length.
    const keys: string[] = [];
    const ms: number[] = [];
    for (const w of group) {
      for (const [scope, key, limit] of w.entries) {
        keys.push(`${keyPrefix}:${scope}:${key}`);
        ms.push(limit.durationSeconds * 1000);
      }
    }
    // A throw here would escape the setImmediate callback and stop the process: make it a rejection,
    // which sends each request of the group to the in-memory count.
    new Promise<number[]>((resolve) => resolve(client.parleyRateCount(keys.length, ...keys, ...ms))).then(
      (reply) => {
        let at = 0;
        for (const w of group) {
          w.resolve(reply.slice(at, at + 2 * w.entries.length));
          at += 2 * w.entries.length;
        }
      },
      (err) => {
        for (const w of group) w.reject(err);
      },
    );
  };

  /** Scopes over their limit and the longest wait, from Redis; throws if Redis cannot answer. */
  async function countInRedis(entries: Entry[]) {
    const reply = await new Promise<number[]>((resolve, reject) => {
      if (!waiting.length) setImmediate(flush);
      waiting.push({ entries, resolve, reject });
    });
    const over: LimitScope[] = [];
    let retryMs = 0;
    entries.forEach(([scope, , limit], i) => {
      if (Number(reply[2 * i]) > limit.points) {
        over.push(scope);
        retryMs = Math.max(retryMs, Number(reply[2 * i + 1]));
      }
    });
    return { over, retryMs };
  }

  async function countInMemory(entries: Entry[]) {
    const results = await Promise.allSettled(
      entries.map(([scope, key, limit]) => memoryLimiter(scope, limit).consume(key)),
    );
    const over: LimitScope[] = [];
    let retryMs = 0;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      if (r.reason instanceof RateLimiterRes) {
        over.push(entries[i]![0]);
        retryMs = Math.max(retryMs, r.reason.msBeforeNext);
      }
      // Any other error lets the request through: flood control must never be the reason a
      // reader's comment is lost.
    });
    return { over, retryMs };
  }

  return {
    async consume(hits, overrides) {
      const entries: Entry[] = [];
      for (const [scope, key] of Object.entries(hits) as [LimitScope, string | null | undefined][]) {
        const limit = overrides?.[scope] ?? limits[scope];
        if (typeof key === 'string' && key.length > 0 && limit && limit.points > 0) {
          entries.push([scope, key, limit]);
        }
      }
      if (!entries.length) return;
      let result: { over: LimitScope[]; retryMs: number };
      if (redis.status !== 'ready') {
        // Do not wait for a reconnect: count in memory at once.
        result = await countInMemory(entries);
      } else {
        try {
          result = await countInRedis(entries);
        } catch {
          result = await countInMemory(entries);
        }
      }
      const { over, retryMs } = result;
      if (!over.length) return;
      for (const scope of over) metrics.rateLimited.inc({ scope });
      throw new AppError(429, 'rate_limited', 'Too many requests; try again later', {
        retryAfterSeconds: Math.max(1, Math.ceil(retryMs / 1000)),
        limits: over,
      });
    },
  };
}

/** A site's own limits (its policy's `floodControl`), in the limiter's terms. */
export function siteLimits(policy: Pick<Policy, 'floodControl'>): Partial<Record<LimitScope, Limit>> {
  const f = policy.floodControl;
  const limit = (l: { points: number; seconds: number } | undefined) =>
    l && { points: l.points, durationSeconds: l.seconds };
  return {
    submit_ip: limit(f.perIp),
    submit_author: limit(f.perAuthor),
    submit_article: limit(f.perArticle),
    report_ip: limit(f.reportsPerIp),
    report_comment: limit(f.reportsPerComment),
  };
}

/** One limiter per Redis client, so the submit and report routes share counters and insurance. */
const shared = new WeakMap<RedisClient, RateLimiter>();

export function rateLimiterFor(deps: { redis: RedisClient; config: Config }): RateLimiter {
  let rl = shared.get(deps.redis);
  if (!rl) {
    rl = createRateLimiter(deps.redis, limitsFromConfig(deps.config), `${deps.config.QUEUE_PREFIX}:rl`);
    shared.set(deps.redis, rl);
  }
  return rl;
}

/**
 * The key for "one author": the email hash, per site. Display names are not keys: "Anonymous" or
 * "John" is shared by many readers, and a flooder changes names for free (the IP and article
 * limits catch that).
 */
export function authorKey(siteId: string, emailHash: string | null | undefined): string | null {
  return emailHash ? `${siteId}:${emailHash}` : null;
}

/**
 * For the reader-report route: `await limitReport(deps, { siteId, commentId, ipHash })` throws a
 * 429 AppError when the reader (by IP hash) or the comment is being flooded with reports.
 */
export function limitReport(
  deps: { redis: RedisClient; config: Config },
  r: { siteId: string; commentId: string; ipHash: string | null | undefined },
  /** The site's own report limits, if its policy sets any (see siteLimits). */
  overrides?: Partial<Record<LimitScope, Limit>>,
): Promise<void> {
  return rateLimiterFor(deps).consume(
    {
      report_ip: r.ipHash ? `${r.siteId}:${r.ipHash}` : null,
      report_comment: `${r.siteId}:${r.commentId}`,
    },
    overrides,
  );
}
