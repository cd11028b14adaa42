/** Workspace test helpers: accounts, signed-in sessions, and held comments seeded straight into the database. */
import { hashEmail, hashIp } from '../../src/lib/crypto';
import { uuidv7 } from '../../src/lib/ids';
import { ensureArticles } from '../../src/repositories/articles';
import { insertDecisions } from '../../src/repositories/decisions';
import { createUser, grantRole } from '../../src/repositories/users';
import type { TestContext } from './context';

export interface Session {
  cookie: string;
  csrf: string;
  userId: string;
  actorId: string;
}

let userSeq = 0;

export async function signedIn(
  t: TestContext,
  roles: Record<string, 'admin' | 'moderator'>,
  password = 'correct horse battery staple',
): Promise<Session> {
  const email = `mod${++userSeq}-${Date.now()}@example.test`;
  const u = await createUser(t.rt.db, { email, password });
  for (const [site, role] of Object.entries(roles)) await grantRole(t.rt.db, u.id, site, role);
  const res = await t.request('POST', '/api/v1/moderation/session', { email, password });
  if (res.status !== 200) throw new Error(`sign-in failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { csrfToken: string };
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  return { cookie, csrf: body.csrfToken, userId: u.id, actorId: `user:${u.id}` };
}

/** A JSON request as the signed-in moderator (cookie plus CSRF token). */
export function as(t: TestContext, s: Session) {
  return (method: string, path: string, body?: unknown) =>
    t.request(method, path, body, { cookie: s.cookie, 'x-csrf-token': s.csrf });
}

export function bearer(t: TestContext, token: string) {
  return (method: string, path: string, body?: unknown) =>
    t.request(method, path, body, { authorization: `Bearer ${token}` });
}

export interface SeedOptions {
  article?: string;
  status?: 'held' | 'pending' | 'published';
  authorName?: string;
  /** null: the author gave no email (default: author<i>@example.test). */
  email?: string | null;
  ip?: string;
  body?: (i: number) => string;
  /** The reply's parent comment id, per comment (none when it returns undefined). */
  parentId?: (i: number) => string | undefined;
  /** The article's title and URL when this call creates it (defaults: 'A story', https://news.example/<article>). */
  articleTitle?: string;
  articleUrl?: string;
  /** A held comment's system decision (default: held by the classifier for toxicity, one span). */
  held?: { reasonCode: string; reasons: Record<string, unknown>[] };
}

/** Inserts `n` comments as the engine would have left them: held with a system decision and spans. */
export async function seedComments(t: TestContext, siteId: string, n: number, o: SeedOptions = {}) {
  const secret = t.config.PARLEY_SECRET;
  const db = t.rt.db;
  const articles = await ensureArticles(db, [
    {
      siteId,
      externalId: o.article ?? 'story-1',
      title: o.articleTitle ?? 'A story',
      url: o.articleUrl ?? `https://news.example/${o.article ?? 'story-1'}`,
    },
  ]);
  const article = [...articles.values()][0]!;
  const status = o.status ?? 'held';
  const ids: string[] = [];
  const base = Date.now() - n * 1000;
  const rows = Array.from({ length: n }, (_, i) => {
    const id = uuidv7();
    ids.push(id);
    const body = o.body ? o.body(i) : `You are an idiot, comment number ${i}`;
    const email = o.email === null ? null : (o.email ?? `author${i}@example.test`);
    return {
      id,
      site_id: siteId,
      article_id: article.id,
      parent_id: o.parentId?.(i) ?? null,
      author_name: o.authorName ?? `Author ${i}`,
      author_email: email,
      email_hash: email === null ? null : hashEmail(secret, email),
      body,
      status,
      ip_hash: hashIp(secret, o.ip ?? `192.0.2.${(i % 250) + 1}`),
      user_agent: 'test-agent',
      referrer: 'https://news.example/story-1',
      signals: JSON.stringify({}),
      created_at: new Date(base + i * 1000),
      decided_at: status === 'pending' ? null : new Date(),
    };
  });
  await db.insertInto('comments').values(rows).execute();
  if (status !== 'pending') {
    await insertDecisions(
      db,
      rows.map((r) => ({
        commentId: r.id,
        siteId,
        actorType: 'system' as const,
        action: status === 'held' ? 'hold' : 'publish',
        fromStatus: 'pending',
        toStatus: status,
        reasonCode: status === 'held' ? (o.held?.reasonCode ?? 'toxicity') : null,
        reasons:
          status === 'held'
            ? (o.held?.reasons ?? [
                {
                  rule: 'classifier',
                  category: 'toxicity',
                  code: 'toxicity',
                  score: 0.8,
                  message: 'Reads as an insult',
                  spans: [{ start: 11, end: 16 }],
                },
              ])
            : [],
      })),
    );
  }
  if (status === 'published') {
    await db.updateTable('articles').set({ published_count: n }).where('id', '=', article.id).execute();
  }
  return { ids, articleId: article.id };
}

export async function statusOf(t: TestContext, id: string) {
  const r = await t.rt.db
    .selectFrom('comments')
    .select('status')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return r.status;
}

export async function outboxFor(t: TestContext, id: string) {
  return t.rt.db.selectFrom('outbox').selectAll().where('comment_id', '=', id).orderBy('id').execute();
}
