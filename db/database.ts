/** Connection pool and database bootstrap. */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema';

// int8 counts (count(*), bigint ids) stay strings by default; parse timestamps as Date (default).
export interface DbOptions {
  url: string;
  poolMax?: number;
  /** Fail a checkout quickly when Postgres is down, so the API can answer 503 instead of hanging. */
  connectionTimeoutMs?: number;
  statementTimeoutMs?: number;
}

export function createPool(opts: DbOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax ?? 20,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 3000,
    statement_timeout: opts.statementTimeoutMs ?? 15_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client losing its connection (Postgres restart) must not crash the process.
  pool.on('error', () => {});
  // Nor a checked-out one between queries (inside a transaction, say): pg emits 'error' on the
  // client with no listener and Node exits (found by the fault suite's Postgres restart). The
  // next query on it fails with the same error, which callers handle.
  pool.on('connect', (client) => {
    client.on('error', () => {});
    answerThroughCallback(client);
  });
  return pool;
}

/**
 * Answers `client.query(text, values)` (the form Kysely uses, and awaits) through pg's callback
 * form, with a promise of its own. The result and the error are pg's. Measured in round 18 of
 * docs/performance.md: with pg's own promise, the objects of every request waiting on a query
 * outlived young-generation collections and were copied into the old generation (a quarter to a
 * third of the API's promoted bytes), which lengthened each collection pause; through the callback they
 * die young. Other forms (a callback given, a Submittable such as a cursor) are left to pg.
 */
function answerThroughCallback(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const patched = (...args: unknown[]): unknown => {
    const [config, values] = args;
    const callbackOrSubmittable =
      args.length > 2 ||
      typeof values === 'function' ||
      typeof (config as { submit?: unknown } | null)?.submit === 'function';
    if (callbackOrSubmittable) return query(...args);
    return new Promise((resolve, reject) => {
      query(config, values, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res)));
    });
  };
  (client as unknown as { query: typeof patched }).query = patched;
}

export function createDb(opts: DbOptions): Kysely<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool(opts) }) });
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'postgres';
}

/** Runs `fn` on a client of the server's `postgres` database, since a database cannot create or drop itself. */
async function onMaintenanceDb<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: withDatabase(url, 'postgres'),
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates the database named in `url` if it does not exist. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  return onMaintenanceDb(url, async (client) => {
    try {
      const found = await client.query('select 1 from pg_database where datname = $1', [name]);
      if (found.rowCount) return false;
      await client.query(`create database ${pg.escapeIdentifier(name)}`);
      return true;
    } catch (err) {
      // Another process created it between our check and our create.
      if ((err as { code?: string }).code === '42P04') return false;
      throw err;
    }
  });
}

export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await onMaintenanceDb(url, (client) =>
    client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`),
  );
}
