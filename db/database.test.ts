import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTBOX_COLUMNS } from '../src/repositories/outbox';
import { createTestContext, type TestContext } from '../test/helpers/context';
import { createDb, prepared } from './database';
import type { Database } from './schema';

let t: TestContext;
const pools: Kysely<Database>[] = [];
/** A pool of one connection, so every statement of a test meets the same server session. */
const onePool = (preparedStatements?: boolean) => {
  const db = createDb({ url: t.config.DATABASE_URL, poolMax: 1, preparedStatements });
  pools.push(db);
  return db;
};

beforeAll(async () => {
  t = await createTestContext();
});
afterAll(async () => {
  await Promise.all(pools.map((db) => db.destroy()));
  await t?.close();
});

const square = (db: Kysely<Database>, label: string, n: number) =>
  db.executeQuery(prepared(label, sql<{ sq: number }>`select ${n}::int * ${n}::int as sq`.compile(db)));

/** This session's prepared statements whose text starts with the given label's mark. */
async function preparedHere(db: Kysely<Database>, label: string) {
  const r = await sql<{ name: string; uses: number }>`
    select name, (generic_plans + custom_plans)::int as uses from pg_prepared_statements
    where statement like ${`/* prepared:${label} */%`} order by name`.execute(db);
  return r.rows;
}

describe('prepared statements', () => {
  it('parses a marked statement once per connection and then only binds and executes it', async () => {
    const db = onePool();
    for (const n of [2, 3, 4]) expect((await square(db, 'test.square', n)).rows).toEqual([{ sq: n * n }]);
    const rows = await preparedHere(db, 'test.square');
    expect(rows).toHaveLength(1);
    expect(rows[0]!.name).toMatch(/^test\.square\.[0-9a-f]{12}$/);
    expect(rows[0]!.uses).toBe(3);
  });

  it('leaves unmarked statements unnamed', async () => {
    const db = onePool();
    await sql`select 1 as one /* test.unmarked */`.execute(db);
    const r = await sql<{ n: number }>`
      select count(*)::int as n from pg_prepared_statements where statement like '%test.unmarked%'
        and statement not like '%pg_prepared_statements%'`.execute(db);
    expect(r.rows[0]!.n).toBe(0);
  });

  it('gives two different texts under one label two names', async () => {
    const db = onePool();
    await db.executeQuery(prepared('test.twin', sql`select 1 as v`.compile(db)));
    await db.executeQuery(prepared('test.twin', sql`select 2 as v`.compile(db)));
    const again = await db.executeQuery(prepared('test.twin', sql<{ v: number }>`select 1 as v`.compile(db)));
    expect(again.rows).toEqual([{ v: 1 }]);
    expect((await preparedHere(db, 'test.twin')).map((r) => r.uses)).toEqual(expect.arrayContaining([2, 1]));
  });

  it('prepares nothing when turned off (for a pooler that cannot keep them)', async () => {
    const db = onePool(false);
    expect((await square(db, 'test.off', 5)).rows).toEqual([{ sq: 25 }]);
    expect(await preparedHere(db, 'test.off')).toEqual([]);
  });

  it('prepares a statement again when the server has dropped it (DISCARD, a pooler)', async () => {
    const db = onePool();
    expect((await square(db, 'test.dropped', 6)).rows).toEqual([{ sq: 36 }]);
    await sql`deallocate all`.execute(db);
    expect(await preparedHere(db, 'test.dropped')).toEqual([]);
    expect((await square(db, 'test.dropped', 7)).rows).toEqual([{ sq: 49 }]);
    expect((await preparedHere(db, 'test.dropped')).map((r) => r.uses)).toEqual([1]);
  });

  it('inside a transaction, a dropped statement fails that transaction only, and is prepared again after', async () => {
    const db = onePool();
    await square(db, 'test.tx', 2);
    await sql`deallocate all`.execute(db);
    await expect(db.transaction().execute((trx) => square(trx, 'test.tx', 3))).rejects.toMatchObject({
      code: '26000',
    });
    expect((await square(db, 'test.tx', 8)).rows).toEqual([{ sq: 64 }]);
  });

  it('falls back to unnamed statements on a connection whose prepared result type changed', async () => {
    const db = onePool();
    await sql`create table prep_shape (a int)`.execute(db);
    try {
      await sql`insert into prep_shape values (1)`.execute(db);
      const read = () =>
        db.executeQuery(prepared('test.shape', sql<{ a: unknown }>`select * from prep_shape`.compile(db)));
      expect((await read()).rows).toEqual([{ a: 1 }]);
      await sql`alter table prep_shape alter column a type text`.execute(db);
      expect((await read()).rows).toEqual([{ a: '1' }]);
      // From now on this connection sends it unnamed: no second prepared copy appears.
      expect((await read()).rows).toEqual([{ a: '1' }]);
      expect((await preparedHere(db, 'test.shape')).map((r) => r.uses)).toEqual([1]);
    } finally {
      await sql`drop table prep_shape`.execute(db);
    }
  });
});

describe('statements prepared over the outbox', () => {
  it('return every column of the outbox table (OUTBOX_COLUMNS names them all)', async () => {
    const r = await sql<{ column_name: string }>`
      select column_name from information_schema.columns
      where table_schema = current_schema() and table_name = 'outbox' order by ordinal_position`.execute(
      t.rt.db,
    );
    const named = sql`${OUTBOX_COLUMNS}`
      .compile(t.rt.db)
      .sql.split(',')
      .map((c) => c.trim());
    expect(named).toEqual(r.rows.map((c) => c.column_name));
  });
});
