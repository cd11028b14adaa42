/** Moderator and admin accounts and their per-site roles. */
import type { Kysely } from 'kysely';
import type { Database, Db } from '../../db/schema';
import type { MemberRole } from '../../db/schema/workspace';
import { AppError } from '../lib/errors';
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
  const inserted = await db
    .insertInto('users')
    .values({ id, email, name, password_hash: await hashPassword(input.password) })
    .onConflict((oc) => oc.column('email').doNothing())
    .returning('id')
    .executeTakeFirst();
  // Hashing takes a moment, so a double submit can create the same account first.
  if (!inserted) throw new AppError(409, 'conflict', 'An account with this email already exists');
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

/** Any account with this email, disabled ones included (findUserByEmail is for signing in). */
export async function findAccountByEmail(db: Db, email: string) {
  return db.selectFrom('users').selectAll().where('email', '=', normaliseEmail(email)).executeTakeFirst();
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

export type RoleChange = 'changed' | 'not_member' | 'last_admin';

/**
 * Sets an account's role on a site, or removes it (`null`), unless that would leave the site
 * without an enabled admin account: its settings, moderators and webhooks could then be reached
 * only from the command line. The site's admin memberships are locked first, so two admins who
 * remove each other at the same moment cannot both pass the check.
 */
export async function changeRole(
  db: Kysely<Database>,
  userId: string,
  siteId: string,
  role: MemberRole | null,
): Promise<RoleChange> {
  return db.transaction().execute(async (trx) => {
    const admins = await trx
      .selectFrom('memberships as m')
      .innerJoin('users as u', 'u.id', 'm.user_id')
      .select('m.user_id')
      .where('m.site_id', '=', siteId)
      .where('m.role', '=', 'admin')
      .where('u.disabled_at', 'is', null)
      .forUpdate('m')
      .execute();
    const isAdmin = admins.some((a) => a.user_id === userId);
    if (isAdmin && admins.length === 1 && role !== 'admin') return 'last_admin';
    if (role) {
      await grantRole(trx, userId, siteId, role);
      return 'changed';
    }
    return (await revokeRole(trx, userId, siteId)) ? 'changed' : 'not_member';
  });
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
