/** Moderator and admin accounts and their per-site roles. */
import type { Db } from '../../db/schema';
import type { MemberRole } from '../../db/schema/workspace';
import { uuidv7 } from '../lib/ids';
import { hashPassword } from '../lib/passwords';

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

export async function createUser(
  db: Db,
  input: { email: string; password: string; name?: string },
): Promise<{ id: string; email: string; name: string }> {
  const email = normaliseEmail(input.email);
  const id = uuidv7();
  const name = input.name?.trim() || email.split('@')[0]!;
  await db
    .insertInto('users')
    .values({ id, email, name, password_hash: await hashPassword(input.password) })
    .execute();
  return { id, email, name };
}

export async function findUserByEmail(db: Db, email: string) {
  return db
    .selectFrom('users')
    .selectAll()
    .where('email', '=', normaliseEmail(email))
    .where('disabled_at', 'is', null)
    .executeTakeFirst();
}

export async function setPassword(db: Db, userId: string, password: string): Promise<void> {
  await db
    .updateTable('users')
    .set({ password_hash: await hashPassword(password) })
    .where('id', '=', userId)
    .execute();
}

/** Grants (or changes) a role on a site. */
export async function grantRole(db: Db, userId: string, siteId: string, role: MemberRole): Promise<void> {
  await db
    .insertInto('memberships')
    .values({ user_id: userId, site_id: siteId, role })
    .onConflict((oc) => oc.columns(['user_id', 'site_id']).doUpdateSet({ role }))
    .execute();
}

export async function revokeRole(db: Db, userId: string, siteId: string): Promise<boolean> {
  const r = await db
    .deleteFrom('memberships')
    .where('user_id', '=', userId)
    .where('site_id', '=', siteId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

export async function rolesOf(db: Db, userId: string): Promise<Record<string, MemberRole>> {
  const rows = await db
    .selectFrom('memberships')
    .select(['site_id', 'role'])
    .where('user_id', '=', userId)
    .execute();
  return Object.fromEntries(rows.map((r) => [r.site_id, r.role]));
}

export async function membersOf(db: Db, siteId: string) {
  return db
    .selectFrom('memberships as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['u.id', 'u.email', 'u.name', 'm.role', 'm.created_at'])
    .where('m.site_id', '=', siteId)
    .orderBy('u.email')
    .execute();
}
