/**
 * The pool's clients answer Kysely's `query(text, values)` through pg's callback form (see
 * answerThroughCallback in db/database.ts): the same results and errors, without pg's promise.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDb, createPool } from '../../db/database';
import { createTestContext, type TestContext } from '../helpers/context';

const spy = vi.spyOn(pg.Client.prototype, 'query');
let t: TestContext;
let pool: pg.Pool;

beforeAll(async () => {
  // The test context makes this file's database; the pool under test is a new one on it.
  t = await createTestContext();
  pool = createPool({ url: t.rt.config.DATABASE_URL, poolMax: 2 });
});
afterAll(async () => {
  await pool.end();
  await t.close();
  spy.mockRestore();
});

describe('pooled clients', () => {
  it("hand pg a callback for Kysely's form and resolve with pg's result", async () => {
    const client = await pool.connect();
    try {
      spy.mockClear();
      const res = await client.query('select $1::int + 1 as n', [41]);
      expect(res.rows).toEqual([{ n: 42 }]);
      expect(spy).toHaveBeenCalledTimes(1);
      expect(spy.mock.calls[0]![2]).toBeTypeOf('function');
      // A config object without values takes the same path.
      expect((await client.query({ text: 'select 2 as n' })).rows).toEqual([{ n: 2 }]);
    } finally {
      client.release();
    }
  });

  it("reject with pg's own error, code and all", async () => {
    const client = await pool.connect();
    try {
      const err = await client.query('select * from no_such_table_here', []).then(
        () => null,
        (e: unknown) => e as { code?: string; message?: string },
      );
      expect(err?.code).toBe('42P01');
      expect(err?.message).toContain('no_such_table_here');
      // The client is still usable afterwards.
      expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      client.release();
    }
  });

  it('leave the callback form to pg as it is', async () => {
    const client = await pool.connect();
    try {
      spy.mockClear();
      const rows = await new Promise<unknown[]>((resolve, reject) =>
        client.query('select 3 as n', (err: Error | null, res: pg.QueryResult) =>
          err ? reject(err) : resolve(res.rows),
        ),
      );
      expect(rows).toEqual([{ n: 3 }]);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      client.release();
    }
  });

  it('serve Kysely queries and transactions as before', async () => {
    const db = createDb({ url: t.rt.config.DATABASE_URL, poolMax: 2 });
    try {
      const { rows } = await sql<{ n: number }>`select ${21}::int * 2 as n`.execute(db);
      expect(rows).toEqual([{ n: 42 }]);
      const n = await db
        .transaction()
        .execute(async (trx) => (await sql<{ n: number }>`select 7 as n`.execute(trx)).rows[0]!.n);
      expect(n).toBe(7);
    } finally {
      await db.destroy();
    }
  });
});
