/**
 * Start-up checks of the Redis server's settings. BullMQ keeps jobs as ordinary keys: a Redis that
 * evicts keys under memory pressure silently drops queued work (bullmq #1046), so Parley refuses to
 * start on one. Persistence is only advisable: Postgres is the source of truth and the outbox
 * relay and pending sweep re-create lost jobs, so a Redis without it costs time, not comments.
 */
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from '../queue';

export interface RedisSettings {
  maxmemoryPolicy: string | null;
  aof: boolean | null;
  /** RDB snapshot rules ('' when snapshots are off), null when CONFIG is not allowed. */
  save: string | null;
}

export interface RedisCheckOptions {
  requireNoeviction: boolean;
  warnNoPersistence: boolean;
}

export interface RedisCheckResult {
  /** On a cluster: the first master's, or the first one's that gave an error or warning. */
  settings: RedisSettings;
  /** On a cluster: each master's settings by `host:port`. */
  nodes?: Record<string, RedisSettings>;
  /** Why start-up must stop, with how to fix it. */
  errors: string[];
  warnings: string[];
}

function infoField(info: string, field: string): string | null {
  const m = info.match(new RegExp(`^${field}:(.*)$`, 'm'));
  return m?.[1]?.trim() ?? null;
}

/**
 * Reads one server's settings from INFO (always allowed) and CONFIG GET (often renamed or disabled
 * on managed Redis; then the persistence check is skipped rather than guessed).
 */
export async function readRedisSettings(redis: Redis): Promise<RedisSettings> {
  const memory = await redis.info('memory');
  const persistence = await redis.info('persistence');
  const aofRaw = infoField(persistence, 'aof_enabled');
  let save: string | null = null;
  try {
    const r = (await redis.config('GET', 'save')) as string[];
    save = r[1] ?? '';
  } catch {
    save = null;
  }
  return {
    maxmemoryPolicy: infoField(memory, 'maxmemory_policy'),
    aof: aofRaw === null ? null : aofRaw === '1',
    save,
  };
}

/** Pure: turns the settings into errors and warnings, each saying how to fix it. */
export function judgeRedisSettings(s: RedisSettings, opts: RedisCheckOptions): RedisCheckResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  if (s.maxmemoryPolicy !== null && s.maxmemoryPolicy !== 'noeviction') {
    const msg =
      `Redis maxmemory-policy is '${s.maxmemoryPolicy}'; Parley needs 'noeviction' so queued jobs are never evicted.\n` +
      '  Fix: run `redis-cli CONFIG SET maxmemory-policy noeviction` and put `maxmemory-policy noeviction` in redis.conf\n' +
      '  (managed Redis: set the parameter group / policy to noeviction), or set REDIS_REQUIRE_NOEVICTION=false to start anyway.';
    if (opts.requireNoeviction) errors.push(msg);
    else warnings.push(msg);
  }
  if (opts.warnNoPersistence && s.aof === false && s.save === '') {
    warnings.push(
      'Redis keeps nothing on disk (no AOF, no RDB snapshots): a Redis restart drops queued jobs. ' +
        'Parley re-creates them from Postgres (outbox relay and pending sweep), but decisions are delayed. ' +
        'Consider `appendonly yes` in redis.conf.',
    );
  }
  return { settings: s, errors, warnings };
}

export async function checkRedisSettings(
  redis: RedisClient,
  opts: RedisCheckOptions,
): Promise<RedisCheckResult> {
  if (!isCluster(redis)) return judgeRedisSettings(await readRedisSettings(redis), opts);
  // INFO and CONFIG answer for the node they reach, and any master may hold the queue's slot (or
  // take it over after a resharding): every master is asked and judged.
  const masters = redis.nodes('master');
  if (!masters.length) throw new Error('the cluster client knows no master node yet');
  const judged = await Promise.all(
    masters.map(async (node) => ({
      name: `${node.options.host}:${node.options.port}`,
      verdict: judgeRedisSettings(await readRedisSettings(node), opts),
    })),
  );
  // One line per distinct problem, naming the nodes that have it.
  const merge = (pick: (r: RedisCheckResult) => string[]) => {
    const byMessage = new Map<string, string[]>();
    for (const { name, verdict } of judged) {
      for (const msg of pick(verdict)) byMessage.set(msg, [...(byMessage.get(msg) ?? []), name]);
    }
    return [...byMessage].map(
      ([msg, names]) => `Redis Cluster node${names.length > 1 ? 's' : ''} ${names.join(', ')}: ${msg}`,
    );
  };
  const worst = judged.find((j) => j.verdict.errors.length || j.verdict.warnings.length) ?? judged[0]!;
  return {
    settings: worst.verdict.settings,
    nodes: Object.fromEntries(judged.map((j) => [j.name, j.verdict.settings])),
    errors: merge((r) => r.errors),
    warnings: merge((r) => r.warnings),
  };
}
