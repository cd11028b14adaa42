/** Removes every Redis key a benchmark run made under its own prefix (bounded scan). */
import { Redis } from 'ioredis';

export async function deleteKeysWithPrefix(redisUrl: string, prefixes: string[]): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    for (const prefix of prefixes) {
      let cursor = '0';
      let rounds = 0;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.unlink(...keys);
      } while (cursor !== '0' && ++rounds < 10_000);
    }
  } finally {
    redis.disconnect();
  }
}
