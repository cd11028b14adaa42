/**
 * Flood control for submissions and reader reports: fixed windows per IP hash, per author and per
 * article (submissions) or per comment (reports), counted in Redis so every API replica shares
 * them. While Redis is away each process falls back to an in-memory limiter of the same shape
 * (rate-limiter-flexible's insurance limiter), so a flood during an outage is still slowed.
 *
 * Keys are hashes and ids only: the plain IP never reaches Redis.
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config';
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
  consume(hits: Partial<Record<LimitScope, string | null | undefined>>): Promise<void>;
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

export function createRateLimiter(
  redis: Redis,
  limits: Record<LimitScope, Limit>,
  keyPrefix = 'parley-rl',
): RateLimiter {
  const limiters = new Map<LimitScope, RateLimiterRedis>();
  for (const [scope, limit] of Object.entries(limits) as [LimitScope, Limit][]) {
    if (limit.points <= 0) continue;
    limiters.set(
      scope,
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${keyPrefix}:${scope}`,
        points: limit.points,
        duration: limit.durationSeconds,
        // Do not wait for a reconnect: go to the in-memory limiter at once.
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({
          keyPrefix: `${keyPrefix}:${scope}`,
          points: limit.points,
          duration: limit.durationSeconds,
        }),
      }),
    );
  }

  return {
    async consume(hits) {
      const entries = Object.entries(hits).filter(
        (e): e is [LimitScope, string] =>
          typeof e[1] === 'string' && e[1].length > 0 && limiters.has(e[0] as LimitScope),
      );
      const results = await Promise.allSettled(
        entries.map(([scope, key]) => limiters.get(scope)!.consume(key)),
      );
      let retryMs = 0;
      const over: LimitScope[] = [];
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') return;
        if (r.reason instanceof RateLimiterRes) {
          over.push(entries[i]![0]);
          retryMs = Math.max(retryMs, r.reason.msBeforeNext);
        }
        // Any other error (both Redis and memory failing) lets the request through: flood control
        // must never be the reason a reader's comment is lost.
      });
      if (!over.length) return;
      for (const scope of over) metrics.rateLimited.inc({ scope });
      throw new AppError(429, 'rate_limited', 'Too many requests; try again later', {
        retryAfterSeconds: Math.max(1, Math.ceil(retryMs / 1000)),
        limits: over,
      });
    },
  };
}

/** One limiter per Redis client, so the submit and report routes share counters and insurance. */
const shared = new WeakMap<Redis, RateLimiter>();

export function rateLimiterFor(deps: { redis: Redis; config: Config }): RateLimiter {
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
  deps: { redis: Redis; config: Config },
  r: { siteId: string; commentId: string; ipHash: string | null | undefined },
): Promise<void> {
  return rateLimiterFor(deps).consume({
    report_ip: r.ipHash ? `${r.siteId}:${r.ipHash}` : null,
    report_comment: `${r.siteId}:${r.commentId}`,
  });
}
