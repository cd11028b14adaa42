/**
 * Thread pages are read far more often than they change. Each API process keeps the rendered page
 * (serialized JSON and its ETag) per query for `freshMs`; after that the next read checks the
 * article's thread_version (one indexed query) and re-reads the comments only if it moved. So a
 * published comment shows up within `freshMs` (default 250 ms, well inside the one-second promise),
 * a page unchanged for a while costs one small query per `freshMs` per process, and a burst of
 * concurrent reads of a cold page shares one load instead of stampeding Postgres.
 *
 * Everything that changes what a page shows bumps thread_version (worker decisions, moderator
 * actions); as a safety net for a change that forgets to, a page body is rebuilt at least every
 * `maxAgeMs` even when the version has not moved.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema';
import { type CompressedForms, compressText } from '../lib/content-coding';
import { findArticleByExternalId } from '../repositories/articles';
import { readThread } from '../repositories/comments';

export interface ThreadQueryKey {
  siteId: string;
  articleId: string;
  order: 'oldest' | 'newest';
  limit: number;
  cursor?: string;
  decodedCursor: { createdAt: Date; id: string } | null;
}

export interface RenderedThread {
  /** Serialized response body. */
  body: string;
  etag: string;
  /** Brotli and gzip forms of the body, made with it; none for a small body. */
  compressed?: CompressedForms;
}

/** What a page holds in memory, in about bytes. */
function pageSize(page: RenderedThread): number {
  return page.body.length + (page.compressed ? page.compressed.br.length + page.compressed.gzip.length : 0);
}

interface Entry {
  page: RenderedThread;
  version: string;
  /** Until when the page may be served without looking at the database. */
  freshUntil: number;
  builtAt: number;
}

export interface ThreadCacheOptions {
  freshMs: number;
  maxAgeMs: number;
  maxEntries?: number;
  /**
   * Memory bound on the rendered pages kept (body in UTF-16 code units plus its compressed forms in
   * bytes: about bytes); oldest go first.
   */
  maxChars?: number;
  now?: () => number;
}

function threadKey(q: Pick<ThreadQueryKey, 'siteId' | 'articleId' | 'order' | 'limit' | 'cursor'>): string {
  return `${q.siteId}\u0000${q.articleId}\u0000${q.order}\u0000${q.limit}\u0000${q.cursor ?? ''}`;
}

export function createThreadCache(db: Kysely<Database>, opts: ThreadCacheOptions) {
  const entries = new Map<string, Entry>();
  const loading = new Map<string, Promise<RenderedThread>>();
  const maxEntries = opts.maxEntries ?? 5000;
  // A page of 100 long comments is about half a megabyte: 5000 of them must not fill the heap.
  const maxChars = opts.maxChars ?? 32 * 1024 * 1024;
  let chars = 0;
  const now = opts.now ?? Date.now;

  const remove = (key: string) => {
    const old = entries.get(key);
    if (!old) return;
    chars -= pageSize(old.page);
    entries.delete(key);
  };

  async function load(key: string, q: ThreadQueryKey): Promise<RenderedThread> {
    const article = await findArticleByExternalId(db, q.siteId, q.articleId);
    if (!article) {
      // Not cached: the first comment creates the article, and it must show up at once.
      return {
        body: JSON.stringify({
          article: { id: q.articleId, title: null, url: null, closed: false, commentCount: 0 },
          comments: [],
          nextCursor: null,
        }),
        etag: '',
      };
    }
    const version = String(article.thread_version);
    const t = now();
    const prev = entries.get(key);
    // Same version: the comments have not changed; the article's own fields may have (title,
    // closed) but those are part of the ETag below, so compare the ETag, not just the version.
    const etag = `W/"${article.id}.${version}.${q.order}.${q.limit}.${q.cursor ?? ''}.${article.closed ? 1 : 0}"`;
    if (prev && prev.page.etag === etag && t - prev.builtAt < opts.maxAgeMs) {
      prev.freshUntil = t + opts.freshMs;
      return prev.page;
    }
    const page = await readThread(db, article.id, {
      order: q.order,
      limit: q.limit,
      cursor: q.decodedCursor,
    });
    const body = JSON.stringify({
      article: {
        id: article.external_id,
        title: article.title,
        url: article.url,
        closed: article.closed,
        commentCount: article.published_count,
      },
      ...page,
    });
    // Compressed once here, for every reader of this version of the page.
    const rendered: RenderedThread = { body, etag, compressed: await compressText(body) };
    const size = pageSize(rendered);
    if (opts.freshMs > 0 && size <= maxChars) {
      remove(key);
      // Oldest first (a Map iterates in insertion order; a rebuilt page moves to the back).
      for (const oldest of entries.keys()) {
        if (entries.size < maxEntries && chars + size <= maxChars) break;
        remove(oldest);
      }
      entries.set(key, { page: rendered, version, freshUntil: t + opts.freshMs, builtAt: t });
      chars += size;
    }
    return rendered;
  }

  return {
    /** The rendered page for this query, at most `freshMs` behind the database. */
    get(q: ThreadQueryKey): Promise<RenderedThread> {
      const key = threadKey(q);
      const hit = entries.get(key);
      if (hit && hit.freshUntil > now()) return Promise.resolve(hit.page);
      const inFlight = loading.get(key);
      if (inFlight) return inFlight;
      const p = load(key, q).finally(() => loading.delete(key));
      loading.set(key, p);
      return p;
    },
    /**
     * The page if it is held and still fresh, without touching the database or loading anything:
     * the fast path for public reads (src/routes/comments/thread-fast-path.ts). A page is only
     * ever held for a query whose cursor was valid, so a hit needs no validation of its own.
     */
    peek(
      q: Pick<ThreadQueryKey, 'siteId' | 'articleId' | 'order' | 'limit' | 'cursor'>,
    ): RenderedThread | undefined {
      const hit = entries.get(threadKey(q));
      return hit && hit.freshUntil > now() ? hit.page : undefined;
    },
    clear: () => {
      entries.clear();
      chars = 0;
    },
    /** Pages and characters held, for tests and metrics. */
    size: () => ({ entries: entries.size, chars }),
  };
}

export type ThreadCache = ReturnType<typeof createThreadCache>;

/**
 * One thread cache per app (keyed by its deps), shared by the thread handler, which fills it, and
 * the fast path in front of the middleware chain, which only reads it.
 */
const perApp = new WeakMap<object, ThreadCache>();

export function threadCacheFor(deps: {
  db: Kysely<Database>;
  readDb?: Kysely<Database>;
  config: { THREAD_CACHE_MS: number; CACHE_TTL_MS: number };
}): ThreadCache {
  let cache = perApp.get(deps);
  if (!cache) {
    // Public thread reads may go to a read replica (DATABASE_READ_URL).
    cache = createThreadCache(deps.readDb ?? deps.db, {
      freshMs: Math.min(deps.config.THREAD_CACHE_MS, deps.config.CACHE_TTL_MS),
      maxAgeMs: deps.config.CACHE_TTL_MS,
    });
    perApp.set(deps, cache);
  }
  return cache;
}
