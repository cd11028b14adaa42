/** Published threads written straight to the database, for the read benchmarks. */
import type { createDb } from '../../db/database';
import { uuidv7 } from '../../src/lib/ids';
import { bumpThreads } from '../../src/repositories/articles';
import { createSite } from '../../src/repositories/sites';
import { corpus } from './corpus';

type Db = ReturnType<typeof createDb>;

const texts = corpus(2000);

export async function makeSite(db: Db, origin: string) {
  const site = await db
    .transaction()
    .execute((trx) => createSite(trx, { name: 'Bench site', allowedOrigins: [origin] }));
  return site.id;
}

/** An article with `n` published comments; returns the article's id. */
export async function seedThread(db: Db, siteId: string, externalId: string, n: number) {
  const articleId = uuidv7();
  await db
    .insertInto('articles')
    .values({
      id: articleId,
      site_id: siteId,
      external_id: externalId,
      url: null,
      title: 'Read bench',
      thread_version: 0,
    })
    .execute();
  await publishDirect(db, siteId, articleId, n, 'seed');
  return articleId;
}

/** Publishes `n` comments in one transaction, bumping the thread as the worker's write does. */
export async function publishDirect(db: Db, siteId: string, articleId: string, n: number, tag: string) {
  const ids: string[] = [];
  await db.transaction().execute(async (trx) => {
    const now = new Date();
    const rows = Array.from({ length: n }, (_, i) => {
      const id = uuidv7();
      ids.push(id);
      return {
        id,
        site_id: siteId,
        article_id: articleId,
        parent_id: null,
        root_id: null,
        author_name: `Reader ${i}`,
        author_email: null,
        email_hash: null,
        body: `${tag} ${i}: ${texts[i % texts.length]}`,
        status: 'published' as const,
        ip_hash: null,
        user_agent: null,
        referrer: null,
        signals: '{}',
        idempotency_key: null,
        request_id: null,
        created_at: now,
        updated_at: now,
        decided_at: now,
      };
    });
    await trx.insertInto('comments').values(rows).execute();
    await bumpThreads(trx, new Map([[articleId, n]]));
  });
  return ids;
}
