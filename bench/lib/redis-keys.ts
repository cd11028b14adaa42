/** Removes every Redis key a benchmark run made under its own prefix (bounded scan). */
import { once } from 'node:events';
import { deleteKeysWithPrefix as deleteOn } from '../../src/lib/redis-keys';
import { createRedis, type RedisTarget } from '../../src/queue';

/**
 * `target` is a URL, or settings naming a Redis Cluster (REDIS_URL, REDIS_CLUSTER): on a cluster
 * the keys are looked for on every master, since SCAN sees one node only.
 */
export async function deleteKeysWithPrefix(target: RedisTarget, prefixes: string[]): Promise<void> {
  const redis = createRedis(target, 'general');
  try {
    // A fail-fast client refuses commands until it is connected; a cluster knows its masters only then.
    if (redis.status !== 'ready') await once(redis, 'ready', { signal: AbortSignal.timeout(5000) });
    for (const prefix of prefixes) await deleteOn(redis, prefix);
  } finally {
    redis.disconnect();
  }
}
