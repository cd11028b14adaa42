/** Connection pool and database bootstrap. */
import { createHash } from 'node:crypto';
import { type CompiledQuery, Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema';

// int8 counts (count(*), bigint ids) stay strings by default; parse timestamps as Date (default).
export interface DbOptions {
  url: string;
  poolMax?: number;
  /** Fail a checkout quickly when Postgres is down, so the API can answer 503 instead of hanging. */
  connectionTimeoutMs?: number;
  statementTimeoutMs?: number;
  /**
   * Prepare the statements marked with `prepared()` once per connection (default true). Off for a
   * pooler that cannot keep them, such as PgBouncer in transaction mode before 1.21.
   */
  preparedStatements?: boolean;
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
    if (opts.preparedStatements !== false) namePreparedStatements(client);
  });
  return pool;
}

/**
 * Marks a hot statement to be prepared once per connection and then only bound and executed: its
 * text is parsed once, and Postgres may keep a generic plan instead of planning every call. For the
 * worker's decision write and near-duplicate probe, parsing and planning were a third of their
 * time in Postgres (docs/performance.md, round 9). Only for statements whose text does not vary
 * with their input (arrays, not lists of placeholders) and that name their result columns, so a
 * column added by a later migration cannot change a prepared statement's result.
 */
export function prepared<R>(name: string, query: CompiledQuery<R>): CompiledQuery<R> {
  return { ...query, sql: `/* prepared:${name} */ ${query.sql}` };
}

const MARK = /^\/\* prepared:([a-z0-9_.-]{1,40}) \*\//;
/** Statement names by text: the label plus a digest, so two texts can never share a name. */
const names = new Map<string, string>();
const UNNAMED = Symbol('parley.unnamed');

function statementName(label: string, text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    if (names.size >= 1000) names.clear();
    name = `${label}.${createHash('sha1').update(text).digest('hex').slice(0, 12)}`;
    names.set(text, name);
  }
  return name;
}

type Connection = { parsedStatements: Record<string, string> };
type NamingClient = pg.PoolClient & {
  [UNNAMED]?: boolean;
  connection?: Connection;
  getTransactionStatus?: () => string | null;
};

/**
 * Kysely hands pg a text and values; a text carrying prepared()'s mark goes to pg as a named query
 * instead, which pg parses on a connection only the first time.
 */
function namePreparedStatements(client: pg.PoolClient) {
  const query = client.query as (...args: unknown[]) => Promise<unknown>;
  (client as { query: unknown }).query = function (this: NamingClient, ...args: unknown[]) {
    const [text, values] = args;
    const m =
      args.length === 2 && typeof text === 'string' && Array.isArray(values) && !this[UNNAMED]
        ? MARK.exec(text)
        : null;
    if (!m) return query.apply(this, args);
    const name = statementName(m[1]!, text as string);
    // Outside a transaction a failed statement changed nothing, so it can simply be sent again.
    const alone = this.getTransactionStatus?.() === 'I';
    const run = () => query.call(this, { name, text, values });
    return run().catch((err: { code?: string }) => {
      // The server no longer has it (a pooler or DISCARD dropped it): prepare it again.
      if (err?.code === '26000') {
        delete this.connection?.parsedStatements[name];
        if (alone) return run();
      }
      // Its result would change (a column's type altered under it): this connection stops naming.
      if (err?.code === '0A000') {
        this[UNNAMED] = true;
        if (alone) return query.apply(this, args);
      }
      throw err;
    });
  };
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

/** Creates the database named in `url` if it does not exist (connecting to the `postgres` one). */
export async function ensureDatabase(url: string): Promise<boolean> {
  const name = databaseName(url);
  const client = new pg.Client({
    connectionString: withDatabase(url, 'postgres'),
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`create database ${pg.escapeIdentifier(name)}`);
    return true;
  } catch (err) {
    // Another process created it between our check and our create.
    if ((err as { code?: string }).code === '42P04') return false;
    throw err;
  } finally {
    await client.end();
  }
}

export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  const client = new pg.Client({
    connectionString: withDatabase(url, 'postgres'),
    connectionTimeoutMillis: 5000,
  });
  await client.connect();
  try {
    await client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  } finally {
    await client.end();
  }
}
