/** Articles (threads), keyed by site and the publisher's own article id. */
import { sql } from 'kysely';
import type { Db } from '../../db/schema';
import { uuidv7 } from '../lib/ids';

export interface ArticleRef {
  id: string;
  siteId: string;
  externalId: string;
  closed: boolean;
}

export interface ArticleSeed {
  siteId: string;
  externalId: string;
  url?: string | null;
  title?: string | null;
}

const key = (siteId: string, externalId: string) => `${siteId}\u0000${externalId}`;

export async function findArticles(db: Db, refs: ArticleSeed[]): Promise<Map<string, ArticleRef>> {
  const out = new Map<string, ArticleRef>();
  if (!refs.length) return out;
  const rows = await db
    .selectFrom('articles')
    .select(['id', 'site_id', 'external_id', 'closed'])
    .where((eb) =>
      eb.or(refs.map((r) => eb.and([eb('site_id', '=', r.siteId), eb('external_id', '=', r.externalId)]))),
    )
    .execute();
  for (const r of rows) {
    out.set(key(r.site_id, r.external_id), {
      id: r.id,
      siteId: r.site_id,
      externalId: r.external_id,
      closed: r.closed,
    });
  }
  return out;
}

/** Finds or creates each article (first sight creates it); safe under concurrent callers. */
export async function ensureArticles(db: Db, seeds: ArticleSeed[]): Promise<Map<string, ArticleRef>> {
  const found = await findArticles(db, seeds);
  const missing = seeds.filter((s) => !found.has(key(s.siteId, s.externalId)));
  if (missing.length) {
    const unique = [...new Map(missing.map((s) => [key(s.siteId, s.externalId), s])).values()];
    await db
      .insertInto('articles')
      .values(
        unique.map((s) => ({
          id: uuidv7(),
          site_id: s.siteId,
          external_id: s.externalId,
          url: s.url ?? null,
          title: s.title ?? null,
          thread_version: 0,
        })),
      )
      .onConflict((oc) => oc.columns(['site_id', 'external_id']).doNothing())
      .execute();
    for (const [k, v] of await findArticles(db, unique)) found.set(k, v);
  }
  return found;
}

export function articleKey(siteId: string, externalId: string): string {
  return key(siteId, externalId);
}

export async function findArticleByExternalId(db: Db, siteId: string, externalId: string) {
  return db
    .selectFrom('articles')
    .selectAll()
    .where('site_id', '=', siteId)
    .where('external_id', '=', externalId)
    .executeTakeFirst();
}

export async function setArticleClosed(db: Db, siteId: string, externalId: string, closed: boolean) {
  return db
    .updateTable('articles')
    .set({ closed })
    .where('site_id', '=', siteId)
    .where('external_id', '=', externalId)
    .returning(['id', 'closed'])
    .executeTakeFirst();
}

/** Keeps the published count and thread version in step with a change of published comments. */
export async function bumpThreads(db: Db, deltas: Map<string, number>): Promise<void> {
  if (!deltas.size) return;
  const values = [...deltas].map(([id, d]) => sql`(${id}::uuid, ${d}::int)`);
  await sql`
    update articles a set published_count = a.published_count + v.d, thread_version = a.thread_version + 1
    from (values ${sql.join(values)}) as v(id, d)
    where a.id = v.id`.execute(db);
}
