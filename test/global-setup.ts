/**
 * One database and one queue prefix per test run, so concurrent runs never see each other; both
 * are removed afterwards.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createDb, databaseName, dropDatabase, ensureDatabase } from '../db/database';
import { migrateToLatest } from '../db/migrate';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    /** A migrated database nobody connects to, copied for each test file (CREATE DATABASE ... TEMPLATE). */
    templateDatabase: string;
    redisUrl: string;
    queuePrefix: string;
  }
}

export default async function setup(project: TestProject) {
  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const base = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/parley_test_${runId}`;
  const databaseUrl = base.toString();
  const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const queuePrefix = `parley-test-${runId}`;

  const templateUrl = new URL(databaseUrl);
  templateUrl.pathname = `${base.pathname}_tpl`;
  for (const url of [databaseUrl, templateUrl.toString()]) {
    await ensureDatabase(url);
    const db = createDb({ url, poolMax: 2 });
    try {
      await migrateToLatest(db);
    } finally {
      await db.destroy();
    }
  }
  project.provide('databaseUrl', databaseUrl);
  project.provide('templateDatabase', databaseName(templateUrl.toString()));
  project.provide('redisUrl', redisUrl);
  project.provide('queuePrefix', queuePrefix);

  return async () => {
    await dropDatabase(databaseUrl);
    await dropRunDatabases(databaseUrl, `parley_test_${runId}`);
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  };
}

/** Drops the template and every per-file copy this run made. */
async function dropRunDatabases(anyUrl: string, prefix: string): Promise<void> {
  const admin = new URL(anyUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      "select datname from pg_database where datname like $1 || '%'",
      [prefix],
    );
    for (const { datname } of rows) {
      await client.query(`drop database if exists ${pg.escapeIdentifier(datname)} with (force)`);
    }
  } finally {
    await client.end();
  }
}
