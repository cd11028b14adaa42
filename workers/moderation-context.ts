/**
 * Gathers what the pure rules may know about a comment before they run: the author's history on
 * the site, posting velocity (Redis counters), near-duplicates (SimHash bands in Postgres) and the
 * site's adaptive model. Concurrent jobs share their round trips: one history query, one
 * duplicate query and one Redis MULTI per batch, and the adaptive model is cached per site.
 */
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../db/schema';
import { createBatcher } from '../src/lib/batcher';
import { TtlCache } from '../src/lib/ttl-cache';
import type { AdaptiveState } from '../src/moderation/adaptive';
import type { Policy } from '../src/moderation/policy';
import { runningRules } from '../src/moderation/running-rules';
import type { CommentInput, ModerationContext } from '../src/moderation/types';
import type { ModerationHint, RedisClient } from '../src/queue';
import { loadAdaptiveStates } from '../src/repositories/adaptive';
import type { ModerationRow } from '../src/repositories/comments';
import { findNearDuplicates } from '../src/repositories/duplicates';
import type { SiteRecord } from '../src/repositories/sites';

/** Author history counts stop here: the rules only compare them with small thresholds. */
export const HISTORY_CAP = 100;

export interface ContextOptions {
  /** Client for the velocity counters (fails fast); absent means counts are unavailable. */
  redis?: RedisClient | (() => Promise<RedisClient>);
  /** Counter keys live under `${keyPrefix}:velocity:` (the queue prefix, so tests stay apart). */
  keyPrefix?: string;
  velocityWindowMs?: number;
  duplicateWindowMs?: number;
  adaptive?: AdaptiveCache;
  /** Redis gets this long before the counts are given up as unavailable. */
  redisTimeoutMs?: number;
  maxBatch?: number;
}

export interface ContextDeps extends ContextOptions {
  db: Kysely<Database>;
  now: () => Date;
}

export function toCommentInput(row: ModerationRow): CommentInput {
  return {
    id: row.id,
    body: row.body,
    authorName: row.author_name,
    authorEmail: row.author_email,
    emailHash: row.email_hash,
    ipHash: row.ip_hash,
    userAgent: row.user_agent,
    referrer: row.referrer,
    parentId: row.parent_id,
    signals: row.signals ?? {},
    createdAt: row.created_at,
  };
}

/** Each site's adaptive model, cached briefly; the learner invalidates what it changes. */
export interface AdaptiveCache {
  get(siteId: string): Promise<AdaptiveState | undefined>;
  invalidate(siteId: string): void;
}

export function createAdaptiveCache(db: Kysely<Database>, ttlMs: number): AdaptiveCache {
  // Wrapped so "no model yet" is cached too (TtlCache does not keep undefined).
  const cache = new TtlCache<string, { state?: AdaptiveState }>(ttlMs, 10_000);
  return {
    async get(siteId) {
      const v = await cache.getOrLoad(siteId, async () => ({
        state: (await loadAdaptiveStates(db, [siteId])).get(siteId),
      }));
      return v.state;
    },
    invalidate: (siteId) => cache.delete(siteId),
  };
}

function ruleOn(policy: Policy, id: string): boolean {
  return policy.rules[id]?.enabled !== false;
}

interface AuthorCounts {
  authorApproved: number;
  authorRejected: number;
}

interface VelocityCounts {
  recentByIp?: number;
  recentByAuthor?: number;
  recentByArticle?: number;
  unavailable?: boolean;
}

/** The author's key on the site: their email hash, else their IP hash, else none. */
function authorOf(
  row: Pick<ModerationRow, 'email_hash' | 'ip_hash'>,
): { kind: 'email' | 'ip'; hash: string } | null {
  if (row.email_hash) return { kind: 'email', hash: row.email_hash };
  if (row.ip_hash) return { kind: 'ip', hash: row.ip_hash };
  return null;
}

async function loadAuthorCounts(
  db: Kysely<Database>,
  rows: Array<Pick<ModerationRow, 'site_id' | 'email_hash' | 'ip_hash'>>,
): Promise<Map<string, AuthorCounts>> {
  const keys = new Map<string, { site: string; kind: 'email' | 'ip'; hash: string }>();
  for (const r of rows) {
    const a = authorOf(r);
    if (a) keys.set(`${r.site_id}\u0000${a.kind}\u0000${a.hash}`, { site: r.site_id, ...a });
  }
  const out = new Map<string, AuthorCounts>();
  if (!keys.size) return out;
  // Capped counts through the (site, email_hash) and (site, ip_hash) indexes, one plain equality
  // per lookup so the planner uses them: a busy shared IP costs at most HISTORY_CAP rows per
  // status, not its whole history.
  const part = (kind: 'email' | 'ip') => {
    const list = [...keys.values()].filter((k) => k.kind === kind);
    if (!list.length) return null;
    const col = sql.ref(kind === 'email' ? 'c.email_hash' : 'c.ip_hash');
    const capped = (status: string) => sql`(select count(*) from (
        select 1 from comments c
        where c.site_id = v.site and ${col} = v.hash and c.status = ${status}
        limit ${HISTORY_CAP}) x)`;
    const values = list.map((k) => sql`(${k.site}::text, ${k.hash}::text)`);
    return sql`select v.site, ${kind}::text as kind, v.hash, ${capped('published')} as approved, ${capped('rejected')} as rejected
      from (values ${sql.join(values)}) as v(site, hash)`;
  };
  const parts = [part('email'), part('ip')].filter((p) => p !== null);
  const res = await sql<{
    site: string;
    kind: string;
    hash: string;
    approved: string;
    rejected: string;
  }>`${sql.join(parts, sql` union all `)}`.execute(db);
  for (const r of res.rows) {
    out.set(`${r.site}\u0000${r.kind}\u0000${r.hash}`, {
      authorApproved: Number(r.approved),
      authorRejected: Number(r.rejected),
    });
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * One round of counting for a whole batch, run inside Redis: for each pair of keys, INCR this
 * bucket (and give a new bucket its expiry), then read the previous bucket. As one script instead
 * of three commands per counter in a MULTI, a batch of a hundred comments costs the worker one
 * command to build and one reply to parse rather than nine hundred: the MULTI was the largest
 * allocator in the worker's heap profile. Every key shares the queue prefix's hash tag, so on a
 * Redis Cluster the script's keys are in one slot, as a script requires.
 */
const VELOCITY_SCRIPT = `
local out = {}
for i = 1, #KEYS, 2 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
  out[#out + 1] = n
  out[#out + 1] = tonumber(redis.call('GET', KEYS[i + 1]) or '0')
end
return out`;

type VelocityClient = RedisClient & {
  parleyVelocity(numKeys: number, ...args: Array<string | number>): Promise<number[]>;
};
const withVelocityScript = new WeakSet<RedisClient>();

function velocityClient(redis: RedisClient): VelocityClient {
  // defineCommand sends EVALSHA and falls back to EVAL when the server does not know the script yet.
  if (!withVelocityScript.has(redis)) {
    redis.defineCommand('parleyVelocity', { lua: VELOCITY_SCRIPT });
    withVelocityScript.add(redis);
  }
  return redis as VelocityClient;
}

type VelocityRow = Pick<ModerationRow, 'site_id' | 'article_id' | 'email_hash' | 'ip_hash' | 'created_at'>;
type VelocityPlan = Array<Array<{ field: keyof VelocityCounts; weight: number }>>;

/** Each row's pair of keys per counter (this bucket, the previous one) and the previous one's weight. */
function velocityKeys(prefix: string, windowMs: number, rows: VelocityRow[]) {
  const keys: string[] = [];
  const plan: VelocityPlan = [];
  for (const r of rows) {
    const at = new Date(r.created_at).getTime();
    const bucket = Math.floor(at / windowMs);
    const weight = 1 - (at - bucket * windowMs) / windowMs;
    const fields: VelocityPlan[number] = [];
    const add = (field: keyof VelocityCounts, key: string) => {
      const base = `${prefix}:velocity:${r.site_id}:${key}`;
      keys.push(`${base}:${bucket}`, `${base}:${bucket - 1}`);
      fields.push({ field, weight });
    };
    if (r.ip_hash) add('recentByIp', `ip:${r.ip_hash}`);
    if (r.email_hash) add('recentByAuthor', `author:${r.email_hash}`);
    add('recentByArticle', `article:${r.article_id}`);
    plan.push(fields);
  }
  return { keys, plan };
}

function velocityCounts(plan: VelocityPlan, results: unknown[]): VelocityCounts[] {
  let i = 0;
  return plan.map((fields) => {
    const counts: VelocityCounts = {};
    for (const f of fields) {
      const cur = Number(results[i] ?? 0);
      const prev = Number(results[i + 1] ?? 0);
      i += 2;
      (counts[f.field] as number) = cur + Math.floor(prev * f.weight);
    }
    return counts;
  });
}

/**
 * Sliding-window counts from two fixed buckets: this bucket's count (INCR, including this comment)
 * plus the previous bucket's, weighted by how much of it still lies inside the window. Keyed by
 * the comment's own time, so a backlog is counted as it was posted. A bucket expires two windows
 * after its first comment, by when its successor has stopped reading it.
 *
 * `read` is for comments already counted once: an author's edit is the same comment, not a new
 * one, so its buckets are read (its first run's increment still in them) and not incremented.
 */
async function countVelocity(
  redis: RedisClient,
  prefix: string,
  windowMs: number,
  rows: VelocityRow[],
  timeoutMs: number,
  mode: 'count' | 'read' = 'count',
): Promise<VelocityCounts[]> {
  const { keys, plan } = velocityKeys(prefix, windowMs, rows);
  const results = await withTimeout<unknown[]>(
    mode === 'read'
      ? redis.mget(...keys)
      : velocityClient(redis).parleyVelocity(keys.length, ...keys, windowMs * 2),
    timeoutMs,
  );
  if (!Array.isArray(results) || results.length !== keys.length) {
    throw new Error(`Redis answered the velocity ${mode} with the wrong number of counts`);
  }
  return velocityCounts(plan, results);
}

/**
 * The columns the lookups read: immutable ones, so they can come from the job's hint (see
 * ModerationHint) before the comment itself has been read back.
 */
export type LookupKey = Pick<
  ModerationRow,
  'id' | 'site_id' | 'article_id' | 'email_hash' | 'ip_hash' | 'created_at' | 'simhash' | 'body' | 'revision'
>;

export function lookupKeyFromHint(commentId: string, hint: ModerationHint): LookupKey {
  return {
    id: commentId,
    site_id: hint.siteId,
    article_id: hint.articleId,
    email_hash: hint.emailHash,
    ip_hash: hint.ipHash,
    created_at: new Date(hint.createdAt),
    simhash: hint.simhash,
    // Hints come with a submission only, never with an edit.
    revision: 0,
    // Without a stored fingerprint the body is too short to have one: nothing to compare.
    body: '',
  };
}

/** What the lookups found for one comment, before it is joined with the comment's own row. */
export interface Lookups {
  author: AuthorCounts | null;
  dups: string[] | undefined;
  vel: VelocityCounts | undefined;
  adaptive: AdaptiveState | undefined;
}

/**
 * The moderate worker's context in two steps: `lookups` (author history, near-duplicates,
 * velocity, adaptive model; batched across concurrent jobs) needs only a LookupKey, `assemble`
 * joins the result with the comment row. Each lookup is skipped when the site's policy does not
 * use it (new-commenter off: no history query; duplicates or velocity switched off: no lookup), so
 * the hot path pays only for what a site asked for.
 */
export function createContextParts(deps: ContextDeps) {
  const maxBatch = deps.maxBatch ?? 100;
  const velocityWindowMs = deps.velocityWindowMs ?? 600_000;
  const duplicateWindowMs = deps.duplicateWindowMs ?? 24 * 3600_000;
  const prefix = deps.keyPrefix ?? 'parley';
  const redisTimeoutMs = deps.redisTimeoutMs ?? 1000;
  let redis: Promise<RedisClient> | undefined;
  const redisClient = () => {
    if (!deps.redis) return undefined;
    redis ??= Promise.resolve(typeof deps.redis === 'function' ? deps.redis() : deps.redis);
    return redis;
  };

  const authors = createBatcher<LookupKey, AuthorCounts | null>(
    async (rows) => {
      const counts = await loadAuthorCounts(deps.db, rows);
      return rows.map((r) => {
        const a = authorOf(r);
        return a ? (counts.get(`${r.site_id}\u0000${a.kind}\u0000${a.hash}`) ?? null) : null;
      });
    },
    { maxBatch, maxInFlight: 2 },
  );

  const duplicates = createBatcher<LookupKey, string[]>(
    async (rows) => {
      const found = await findNearDuplicates(
        deps.db,
        rows.map((r) => ({
          id: r.id,
          siteId: r.site_id,
          body: r.body,
          createdAt: r.created_at,
          fingerprint: r.simhash,
        })),
        duplicateWindowMs,
      );
      return rows.map((r) => found.get(r.id) ?? []);
    },
    { maxBatch, maxInFlight: 2 },
  );

  const velocity = createBatcher<LookupKey, VelocityCounts>(
    async (rows) => {
      const client = redisClient();
      if (!client) return rows.map(() => ({ unavailable: true }));
      try {
        const redis = await client;
        const edited = rows.filter((r) => r.revision > 0);
        if (!edited.length) return await countVelocity(redis, prefix, velocityWindowMs, rows, redisTimeoutMs);
        const fresh = rows.filter((r) => !(r.revision > 0));
        const [counted, read] = await Promise.all([
          fresh.length ? countVelocity(redis, prefix, velocityWindowMs, fresh, redisTimeoutMs) : [],
          countVelocity(redis, prefix, velocityWindowMs, edited, redisTimeoutMs, 'read'),
        ]);
        return rows.map((r) => (r.revision > 0 ? read.shift()! : counted.shift()!));
      } catch {
        // Unknown is not zero: the guarded velocity rule holds these comments and says why.
        return rows.map(() => ({ unavailable: true }));
      }
    },
    { maxBatch, maxInFlight: 2 },
  );

  async function lookups(key: LookupKey, site: SiteRecord): Promise<Lookups> {
    const policy = site.policy;
    const [author, dups, vel, adaptive] = await Promise.all([
      policy.newCommenterHold > 0 && ruleOn(policy, 'new-commenter') ? authors(key) : null,
      ruleOn(policy, 'duplicates') ? duplicates(key) : undefined,
      ruleOn(policy, 'velocity') ? velocity(key) : undefined,
      ruleOn(policy, 'classifier') ? deps.adaptive?.get(site.id) : undefined,
    ]);
    return { author, dups, vel, adaptive };
  }

  function assemble(row: ModerationRow, site: SiteRecord, found: Lookups): ModerationContext {
    const policy = site.policy;
    const { author, dups, vel, adaptive } = found;
    const history: NonNullable<ModerationContext['history']> = {};
    if (author) {
      history.authorApproved = author.authorApproved;
      history.authorRejected = author.authorRejected;
    } else if (author === null && policy.newCommenterHold > 0 && !authorOf(row)) {
      // Nothing identifies the author: treat them as new rather than as unknown.
      history.authorApproved = 0;
      history.authorRejected = 0;
    }
    if (dups) history.duplicates = dups;
    if (vel && !vel.unavailable) {
      history.recentByIp = vel.recentByIp;
      history.recentByAuthor = vel.recentByAuthor;
      history.recentByArticle = vel.recentByArticle;
    }
    return {
      siteId: site.id,
      policy,
      policyVersion: site.policyVersion,
      article: {
        id: row.article_id,
        closed: row.article_closed,
        url: row.article_url,
        title: row.article_title,
      },
      now: deps.now(),
      history,
      ...(adaptive ? { adaptive } : {}),
      ...(vel?.unavailable ? { extra: { velocityUnavailable: true } } : {}),
    };
  }

  return { lookups, assemble };
}

/** The context for a comment already read back: its lookups, then the join with its row. */
export function createContextLoader(deps: ContextDeps) {
  const parts = createContextParts(deps);
  return async function loadContext(row: ModerationRow, site: SiteRecord): Promise<ModerationContext> {
    return parts.assemble(row, site, await parts.lookups(row, site));
  };
}

/** Kept for callers that build one context at a time (tools, tests): no batching, no Redis. */
export async function buildModerationContext(
  deps: ContextDeps,
  row: ModerationRow,
  site: SiteRecord,
): Promise<ModerationContext> {
  return createContextLoader(deps)(row, site);
}

/** The rules the worker runs: the engine's, the velocity guard, and the external provider if configured. */
export const workerRules = runningRules;
