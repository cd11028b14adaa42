/** The one place that reads the environment: validated once, then passed to everything else. */
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The URLs in REDIS_URL: one server, or the seed nodes of a cluster. */
export function redisUrls(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The part of a key Redis Cluster hashes (the first `{...}` with something inside, as Redis
 * defines it), or null when the whole key is hashed.
 */
export function redisHashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open < 0) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}

const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Public base URL of this Parley, used in the demo page and printed on start. */
  PUBLIC_URL: z.url().optional(),
  DATABASE_URL: z.url().default('postgres://postgres@127.0.0.1:5432/parley'),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(20),
  /**
   * Optional streaming replica for public thread reads (the most frequent request). Unset: the
   * primary. A page shown is then up to the replica's lag plus THREAD_CACHE_MS behind.
   */
  DATABASE_READ_URL: z.url().optional(),
  /** One Redis URL, or with REDIS_CLUSTER several comma-separated seed nodes of one cluster. */
  REDIS_URL: z
    .string()
    .refine((v) => redisUrls(v).length > 0 && redisUrls(v).every((u) => URL.canParse(u)), {
      message: 'expected a URL, or comma-separated URLs of Redis Cluster seed nodes',
    })
    .default('redis://127.0.0.1:6379'),
  /** Talk to a Redis Cluster (ioredis Cluster) instead of one Redis server. */
  REDIS_CLUSTER: bool.default(false),
  /** BullMQ key prefix; the braces make it a Redis Cluster hash tag so a queue's keys share a slot. */
  QUEUE_PREFIX: z.string().min(1).default('{parley}'),
  /**
   * HMAC secret for IP hashes, email hashes and form tokens. Kept out of the database so a database
   * dump alone cannot be used to test guesses of IP addresses.
   */
  PARLEY_SECRET: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(16).optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Proxies whose X-Forwarded-For we believe; anything else is the peer address. */
  TRUSTED_PROXIES: csv.default([]),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024),
  COMMENT_MAX_CHARS: z.coerce.number().int().min(1).default(5000),
  /** How long in-process caches of site and article rows may lag behind the database. */
  CACHE_TTL_MS: z.coerce.number().int().min(0).default(5000),
  /**
   * How long a rendered thread page may be served from memory before its article's thread_version
   * is checked again: the most a newly published comment can be late (capped by CACHE_TTL_MS).
   */
  THREAD_CACHE_MS: z.coerce.number().int().min(0).max(1000).default(250),
  INGEST_MAX_BATCH: z.coerce.number().int().min(1).max(5000).default(200),
  // One batch statement at a time: submissions arriving meanwhile wait for it and go together in
  // the next. At 1,000 comments/s that gave fewer, larger batches (and moderate jobs) and cut the
  // end-to-end p50 from 45-51 to 31-34 ms; 2 or 4 in flight were alike (docs/performance.md).
  INGEST_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(64).default(1),
  // While submissions keep coming, a batch of fewer than INGEST_LINGER_BELOW waits until its first
  // is INGEST_LINGER_MS old. At moderate rates batches held 2-4 comments and their fixed costs (a
  // statement, a moderate job and its worker round trips) kept the machine busy; a lone comment on
  // a quiet server still goes at once. 0 turns it off (docs/performance.md, round 24).
  INGEST_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(10),
  INGEST_LINGER_BELOW: z.coerce.number().int().min(1).max(5000).default(16),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(256),
  /** Comments still pending this long after submission are put on the queue again. */
  SWEEP_AFTER_MS: z.coerce.number().int().min(100).default(30_000),
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(50).default(10_000),
  RELAY_INTERVAL_MS: z.coerce.number().int().min(10).default(500),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(100).default(10_000),
  /** Create a demo site on first start with an empty database (for the Quickstart). */
  DEMO: bool.default(true),
  /** Refuse to start unless Redis evicts nothing (BullMQ loses jobs under any eviction policy). */
  REDIS_REQUIRE_NOEVICTION: bool.default(true),
  /** Warn at start-up when Redis keeps nothing on disk (the outbox and sweep still recover). */
  REDIS_WARN_NO_PERSISTENCE: bool.default(true),
  /**
   * What a submission gets while Redis is unreachable: 'reject' answers 503 at once (nothing is
   * stored); 'accept' stores it anyway (the outbox relays it later) with in-memory rate limits.
   */
  REDIS_DOWN_SUBMISSIONS: z.enum(['reject', 'accept']).default('reject'),
  /** How long a pool checkout may wait before the request fails with 503 (Postgres down or saturated). */
  DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  /** BullMQ lock timings for the moderate worker; a job whose lock lapses is run again (at-least-once). */
  WORKER_LOCK_MS: z.coerce.number().int().min(500).default(30_000),
  WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(200).default(30_000),
  /** Flood control: "points/seconds" per key. 0 points turns a limit off. */
  RATE_SUBMIT_PER_IP: z
    .string()
    .regex(/^\d+\/\d+$/)
    .default('10/60'),
  RATE_SUBMIT_PER_AUTHOR: z
    .string()
    .regex(/^\d+\/\d+$/)
    .default('6/60'),
  RATE_SUBMIT_PER_ARTICLE: z
    .string()
    .regex(/^\d+\/\d+$/)
    .default('600/60'),
  RATE_REPORT_PER_IP: z
    .string()
    .regex(/^\d+\/\d+$/)
    .default('20/600'),
  RATE_REPORT_PER_COMMENT: z
    .string()
    .regex(/^\d+\/\d+$/)
    .default('200/600'),
  /** /readyz sends a canary job through the moderate queue and waits this long for a worker to answer; 0 turns it off. */
  READYZ_CANARY_TIMEOUT_MS: z.coerce.number().int().min(0).default(3000),
  /** When set, /metrics requires `Authorization: Bearer <token>`. */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** Port for the workers process's /metrics (the API serves its own on PORT); 0 turns it off. */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
  /** Moderator sign-in sessions last this long (hours) from sign-in. */
  SESSION_TTL_HOURS: z.coerce
    .number()
    .min(0.01)
    .max(24 * 30)
    .default(12),
  /** Secure cookies: auto = when the request arrived over HTTPS (or X-Forwarded-Proto from a trusted proxy says so). */
  COOKIE_SECURE: z.enum(['auto', 'always', 'never']).default('auto'),
  /** How long a claimed queue item stays with its moderator before others may be handed it. */
  CLAIM_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(120),
  /** A moderator decision can be undone for this long. */
  UNDO_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  /** How often the worker purges submission context older than each site's retention period. */
  RETENTION_INTERVAL_MS: z.coerce.number().int().min(1000).default(3_600_000),
  /** Off by default: lets webhook endpoints on loopback receive deliveries (tests, local dev). */
  WEBHOOKS_ALLOW_LOOPBACK: bool.default(false),
  /** Whole-exchange timeout of one webhook delivery attempt. */
  WEBHOOKS_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(15_000),
  /**
   * Deliveries in flight per endpoint. An endpoint's rate is at most this over its round trip
   * (16 at 50 ms: about 300 a second; bench/webhooks.ts), and a slow or dead endpoint holds only
   * this many slots (one while it is failing).
   */
  WEBHOOKS_ENDPOINT_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(16),
  /** Delivery jobs in flight per worker process (a busy endpoint's slots each hold one). */
  WEBHOOKS_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(64),
  /** How often the dispatcher looks for due retries (new events wake it at once). */
  WEBHOOKS_DISPATCH_INTERVAL_MS: z.coerce.number().int().min(10).default(1000),
  /** Delivered and failed webhook messages (with their attempt log) are deleted after this many days. */
  WEBHOOKS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  /** The worker touches this file while its loops run, for container health checks. */
  WORKER_HEARTBEAT_FILE: z.string().optional(),
  /**
   * Optional external classifier (OpenAI-moderation-compatible: POST {input} → {results: [...]}).
   * Off while unset; when set, the worker adds it after the built-in rules and holds on failure.
   */
  MODERATION_PROVIDER_URL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.url({ protocol: /^https?$/ }).optional(),
  ),
  MODERATION_PROVIDER_API_KEY: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
  MODERATION_PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(50).max(30_000).default(2000),
  /** Posting velocity counts comments per IP hash, author and article over this sliding window. */
  MODERATION_VELOCITY_WINDOW_SECONDS: z.coerce.number().int().min(10).max(86_400).default(600),
  /** Near-duplicates count when posted on the same site within this many hours before a comment. */
  MODERATION_DUPLICATE_WINDOW_HOURS: z.coerce
    .number()
    .min(0.01)
    .max(24 * 30)
    .default(24),
  /** How long a worker may use a site's adaptive model before reloading it (its own updates apply at once). */
  MODERATION_ADAPTIVE_CACHE_MS: z.coerce.number().int().min(0).default(5000),
});

export type RawConfig = z.infer<typeof configSchema>;
export type Config = Omit<RawConfig, 'PARLEY_SECRET'> & { PARLEY_SECRET: string };

export class ConfigError extends Error {
  constructor(public readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
  }
}

/** Parses an environment-like record; throws ConfigError naming every bad field. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  const cfg = parsed.data;
  const issues: string[] = [];
  if (cfg.REDIS_CLUSTER && redisHashTag(cfg.QUEUE_PREFIX) === null) {
    // BullMQ's scripts, the flood-control script and the velocity MULTI each touch several keys,
    // which Redis Cluster allows only within one slot: the prefix's hash tag puts them all there.
    issues.push(
      `QUEUE_PREFIX: '${cfg.QUEUE_PREFIX}' has no hash tag; with REDIS_CLUSTER=true it must contain one, like '{parley}', so every key lands in one slot`,
    );
  }
  if (!cfg.REDIS_CLUSTER && redisUrls(cfg.REDIS_URL).length > 1) {
    issues.push(
      'REDIS_URL: several URLs are seed nodes of a cluster; set REDIS_CLUSTER=true or give one URL',
    );
  }
  if (issues.length) throw new ConfigError(issues);
  if (!cfg.PARLEY_SECRET) {
    if (cfg.NODE_ENV === 'production') {
      throw new ConfigError(['PARLEY_SECRET: required in production (32+ random characters)']);
    }
    // A fixed development secret keeps IP hashes stable across restarts on a laptop; production
    // refuses to start without a real one (above).
    return { ...cfg, PARLEY_SECRET: 'parley-development-secret-not-for-production' };
  }
  return cfg as Config;
}
