/** API tokens: shown once, stored as a hash, scoped to one site and one role. */
import { sql } from 'kysely';
import type { Db, TokenRole } from '../../db/schema';
import { hashToken } from '../lib/crypto';
import { randomSecret, uuidv7 } from '../lib/ids';

export async function createToken(db: Db, input: { siteId: string; role: TokenRole; name: string }) {
  const token = `prl_${randomSecret(32)}`;
  const id = uuidv7();
  await db
    .insertInto('api_tokens')
    .values({ id, site_id: input.siteId, role: input.role, name: input.name, token_hash: hashToken(token) })
    .execute();
  return { id, token, siteId: input.siteId, role: input.role, name: input.name };
}

const LAST_USED_RESOLUTION_MS = 60_000;

export async function findActiveToken(db: Db, token: string) {
  const row = await db
    .selectFrom('api_tokens')
    .select(['id', 'site_id', 'role', 'name', 'last_used_at'])
    .where('token_hash', '=', hashToken(token))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  // Kept to the minute: an update and its commit on every request of a busy integration (or of a
  // moderator's tool) for a timestamp shown in minutes. Best effort, off the request's path.
  if (row && !(row.last_used_at && Date.now() - row.last_used_at.getTime() < LAST_USED_RESOLUTION_MS)) {
    void db
      .updateTable('api_tokens')
      .set({ last_used_at: sql`now()` })
      .where('id', '=', row.id)
      .execute()
      .catch(() => {});
  }
  return row;
}

export async function revokeToken(db: Db, siteId: string, id: string): Promise<boolean> {
  const r = await db
    .updateTable('api_tokens')
    .set({ revoked_at: sql`now()` })
    .where('id', '=', id)
    .where('site_id', '=', siteId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}
