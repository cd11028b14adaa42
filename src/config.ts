/** The one place that reads the environment: validated once, then passed to everything else. */
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

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
  REDIS_URL: z.url().default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix; the braces make it a Redis Cluster hash tag so a queue's keys share a slot. */
  QUEUE_PREFIX: z.string().min(1).default('{parley}'),
  /**
   * HMAC secret for IP hashes, email hashes and form tokens. Kept out of the database so a database
   * dump alone cannot be used to test guesses of IP addresses.
   */
  PARLEY_SECRET: z.string().min(16).optional(),
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
  INGEST_MAX_BATCH: z.coerce.number().int().min(1).max(5000).default(200),
  INGEST_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(64).default(4),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(64),
  /** Comments still pending this long after submission are put on the queue again. */
  SWEEP_AFTER_MS: z.coerce.number().int().min(100).default(30_000),
  SWEEP_INTERVAL_MS: z.coerce.number().int().min(50).default(10_000),
  RELAY_INTERVAL_MS: z.coerce.number().int().min(10).default(500),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(100).default(10_000),
  /** Create a demo site on first start with an empty database (for the Quickstart). */
  DEMO: bool.default(true),
  /** Off by default: lets webhook endpoints on loopback receive deliveries (tests, local dev). */
  WEBHOOKS_ALLOW_LOOPBACK: bool.default(false),
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
