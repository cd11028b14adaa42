/** Comments written straight to the database: published threads for the reads, a held queue. */
import type { createDb } from '../../db/database';
import { hashEmail, hashIp } from '../../src/lib/crypto';
import { uuidv7 } from '../../src/lib/ids';
import { bumpThreads, ensureArticles } from '../../src/repositories/articles';
import { insertDecisions } from '../../src/repositories/decisions';
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

/**
 * `n` held comments spread over `articles` articles, each with the system decision and reasons a
 * moderator sees, written in chunks as the engine would have left them (oldest first).
 */
export async function seedHeld(db: Db, secret: string, siteId: string, n: number, articles: number) {
  const articleIds = await ensureArticles(
    db,
    Array.from({ length: articles }, (_, i) => ({
      siteId,
      externalId: `queue-${i}`,
      title: `Story ${i}`,
      url: `https://bench.example/queue-${i}`,
    })),
  );
  const byArticle = [...articleIds.values()].map((a) => a.id);
  const base = Date.now() - n * 100;
  for (let at = 0; at < n; at += 1000) {
    const rows = Array.from({ length: Math.min(1000, n - at) }, (_, k) => {
      const i = at + k;
      const email = `reader${i % 5000}@bench.example`;
      return {
        id: uuidv7(),
        site_id: siteId,
        article_id: byArticle[i % byArticle.length]!,
        parent_id: null,
        author_name: `Reader ${i % 5000}`,
        author_email: email,
        email_hash: hashEmail(secret, email),
        body: texts[i % texts.length]!,
        status: 'held' as const,
        ip_hash: hashIp(secret, `192.0.2.${(i % 250) + 1}`),
        user_agent: 'bench',
        referrer: null,
        signals: '{}',
        created_at: new Date(base + i * 100),
        decided_at: new Date(base + i * 100 + 50),
      };
    });
    await db.insertInto('comments').values(rows).execute();
    await insertDecisions(
      db,
      rows.map((r) => ({
        commentId: r.id,
        siteId,
        actorType: 'system' as const,
        action: 'hold',
        fromStatus: 'pending',
        toStatus: 'held',
        reasonCode: 'toxicity',
        reasons: [
          {
            rule: 'classifier',
            category: 'toxicity',
            code: 'toxicity',
            score: 0.8,
            message: 'The toxicity model gives this comment 80%',
            spans: [{ start: 0, end: 4 }],
          },
        ],
      })),
    );
  }
}
