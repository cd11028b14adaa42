/** Sites: a publisher's property, its allowed embed origins and its moderation policy. */
import type { Db } from '../../db/schema';
import { randomId } from '../lib/ids';
import { type Policy, type PolicyInput, parsePolicy, policySchema } from '../moderation/policy';

export interface SiteRecord {
  id: string;
  name: string;
  allowedOrigins: string[];
  policy: Policy;
  policyVersion: number;
  createdAt: Date;
}

export async function findSite(db: Db, id: string): Promise<SiteRecord | undefined> {
  const row = await db.selectFrom('sites').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    name: row.name,
    allowedOrigins: row.allowed_origins,
    policy: parsePolicy(row.policy),
    policyVersion: row.policy_version,
    createdAt: row.created_at,
  };
}

export async function createSite(
  db: Db,
  input: { name: string; allowedOrigins: string[]; policy?: PolicyInput; id?: string; createdBy?: string },
): Promise<SiteRecord> {
  const policy = policySchema.parse(input.policy ?? {});
  const id = input.id ?? randomId('site');
  const row = await db
    .insertInto('sites')
    .values({
      id,
      name: input.name,
      allowed_origins: input.allowedOrigins,
      policy: JSON.stringify(policy),
      policy_version: 1,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await db
    .insertInto('policy_versions')
    .values({ site_id: id, version: 1, policy: JSON.stringify(policy), created_by: input.createdBy ?? null })
    .execute();
  return {
    id: row.id,
    name: row.name,
    allowedOrigins: row.allowed_origins,
    policy,
    policyVersion: row.policy_version,
    createdAt: row.created_at,
  };
}

export async function countSites(db: Db): Promise<number> {
  const r = await db
    .selectFrom('sites')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function updateAllowedOrigins(db: Db, id: string, origins: string[]): Promise<void> {
  await db.updateTable('sites').set({ allowed_origins: origins }).where('id', '=', id).execute();
}

/** Saves a new policy version; the caller runs this in a transaction with whatever else changes. */
export async function savePolicy(
  db: Db,
  siteId: string,
  policy: Policy,
  createdBy: string | null,
): Promise<number> {
  const row = await db
    .updateTable('sites')
    .set((eb) => ({ policy: JSON.stringify(policy), policy_version: eb('policy_version', '+', 1) }))
    .where('id', '=', siteId)
    .returning('policy_version')
    .executeTakeFirstOrThrow();
  await db
    .insertInto('policy_versions')
    .values({
      site_id: siteId,
      version: row.policy_version,
      policy: JSON.stringify(policy),
      created_by: createdBy,
    })
    .execute();
  return row.policy_version;
}
