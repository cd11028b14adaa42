/** Finding and removing keys by prefix on one Redis server or on every master of a Redis Cluster. */
import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from '../queue';

/**
 * The servers whose keyspaces together hold every key: SCAN, KEYS and INFO answer for the node
 * they reach only, so on a cluster each master must be asked.
 */
export function keyspaceServers(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/** Every key on one server matching `pattern`, by SCAN (at most `maxRounds` cursor steps). */
export async function scanServer(server: Redis, pattern: string, maxRounds = 10_000): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  let rounds = 0;
  do {
    const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0' && ++rounds < maxRounds);
  return found;
}

/**
 * Removes every key starting with `prefix` (a SCAN pattern: escape any `*`, `?` or `[` in it) and
 * returns how many. One UNLINK per key: keys of different slots on one cluster node would make a
 * multi-key UNLINK fail with CROSSSLOT.
 */
export async function deleteKeysWithPrefix(
  client: RedisClient,
  prefix: string,
  maxRounds = 10_000,
): Promise<number> {
  let removed = 0;
  for (const server of keyspaceServers(client)) {
    let cursor = '0';
    let rounds = 0;
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) {
        const pipeline = server.pipeline();
        for (const key of keys) pipeline.unlink(key);
        await pipeline.exec();
        removed += keys.length;
      }
    } while (cursor !== '0' && ++rounds < maxRounds);
  }
  return removed;
}
