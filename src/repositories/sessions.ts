/** Sign-in sessions: the cookie holds a random token, the table only its hash. */
import { sql } from 'kysely';
import type { Db } from '../../db/schema';
import { hashToken } from '../lib/crypto';
import { randomSecret, uuidv7 } from '../lib/ids';

export async function createSession(
  db: Db,
  input: { userId: string; ttlMs: number; userAgent?: string | null; now: Date },
) {
  const token = randomSecret(32);
  const csrfToken = randomSecret(24);
  const id = uuidv7();
  const expiresAt = new Date(input.now.getTime() + input.ttlMs);
  await db
    .insertInto('sessions')
    .values({
      id,
      token_hash: hashToken(token),
      user_id: input.userId,
      csrf_token: csrfToken,
      user_agent: input.userAgent?.slice(0, 512) ?? null,
      expires_at: expiresAt,
    })
    .execute();
  return { id, token, csrfToken, expiresAt };
}

export async function findSession(db: Db, token: string, now: Date) {
  return db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select(['s.id', 's.user_id', 's.csrf_token', 's.expires_at', 'u.email', 'u.name'])
    .where('s.token_hash', '=', hashToken(token))
    .where('s.expires_at', '>', now)
    .where('u.disabled_at', 'is', null)
    .executeTakeFirst();
}

export async function deleteSession(db: Db, id: string): Promise<void> {
  await db.deleteFrom('sessions').where('id', '=', id).execute();
}

export async function purgeExpiredSessions(db: Db): Promise<number> {
  const r = await db.deleteFrom('sessions').where('expires_at', '<', sql<Date>`now()`).executeTakeFirst();
  return Number(r.numDeletedRows);
}
