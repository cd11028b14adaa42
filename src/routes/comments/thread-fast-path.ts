/**
 * Thread pages are the most frequent request by far, and a cached page costs a map lookup; the
 * router and the general middleware chain (request id and logger, metrics, body limit, client
 * address, CORS, zod validation of params and query) cost several times that per read. This runs
 * in front of both (src/app.ts wraps the app's fetch) and answers a GET whose page is held and
 * fresh in this process's thread cache, with exactly the headers the full route sends: CORS
 * (Vary: Origin, the allowed origin or `*` for reads), ETag and 304 for a matching If-None-Match,
 * Cache-Control, X-Request-Id, and the request metrics. Anything else (no fresh page, an unknown
 * site, ids or a query string that need decoding, HEAD) goes down the normal path unchanged,
 * which also fills the cache. Freshness is the cache's: a page is served only within
 * THREAD_CACHE_MS of its last check against the database.
 */
import { randomUUID } from 'node:crypto';
import type { AppDeps } from '../../deps';
import { metrics } from '../../lib/metrics';
import { threadCacheFor } from '../../services/thread-cache';

/** The thread route's pattern, as the OpenAPI route registers it (and as metrics label it). */
export const THREAD_PATH = '/api/v1/sites/:siteId/articles/:articleId/comments';

/** Query values taken as they are; anything needing decoding goes down the normal path. */
const PLAIN = /^[A-Za-z0-9_.~-]{1,200}$/;
const LIMIT = /^(?:[1-9][0-9]?|100)$/;
/** What Hono's requestId middleware accepts from the client. */
const REQUEST_ID = /^[\w\-=]{1,64}$/;

interface ThreadQuery {
  order: 'oldest' | 'newest';
  limit: number;
  cursor?: string;
}

/** The query string if it is one the fast path can serve as the route would read it, else null. */
export function plainThreadQuery(url: string): ThreadQuery | null {
  const q: ThreadQuery = { order: 'oldest', limit: 20 };
  const at = url.indexOf('?');
  if (at < 0) return q;
  const seen = new Set<string>();
  for (const part of url.slice(at + 1).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) return null;
    const key = part.slice(0, eq);
    // Other keys (cache busters) are ignored, as the route's schema strips them.
    if (key !== 'order' && key !== 'limit' && key !== 'cursor') continue;
    const value = part.slice(eq + 1);
    if (seen.has(key) || !PLAIN.test(value)) return null;
    seen.add(key);
    if (key === 'order' && (value === 'oldest' || value === 'newest')) q.order = value;
    else if (key === 'limit' && LIMIT.test(value)) q.limit = Number(value);
    else if (key === 'cursor') q.cursor = value;
    else return null;
  }
  return q;
}

/** The thread route's path with ids that need no decoding; anything else is left to the router. */
const THREAD_URL =
  /^[a-z]+:\/\/[^/]+\/api\/v1\/sites\/([A-Za-z0-9_-]{1,64})\/articles\/([A-Za-z0-9_.~-]{1,200})\/comments(?=\?|$)/;

/**
 * Returns a function that answers a request from the thread cache, or returns undefined (no
 * promise at all for anything that is not a thread GET) to let the app handle it. It runs before
 * Hono's router: routing alone was about a tenth of a cached read's CPU.
 */
export function threadFastPath(deps: AppDeps): (req: Request) => Promise<Response | undefined> | undefined {
  const threads = threadCacheFor(deps);
  const labels = (status: string) => ({ method: 'GET', route: THREAD_PATH, status });
  const served = {
    200: {
      count: metrics.httpRequests.labels(labels('200')),
      time: metrics.httpDuration.labels(labels('200')),
    },
    304: {
      count: metrics.httpRequests.labels(labels('304')),
      time: metrics.httpDuration.labels(labels('304')),
    },
  };

  async function answer(req: Request, siteId: string, articleId: string): Promise<Response | undefined> {
    const started = performance.now();
    const q = plainThreadQuery(req.url);
    if (!q) return undefined;
    const page = threads.peek({ siteId, articleId, order: q.order, limit: q.limit, cursor: q.cursor });
    if (!page?.etag) return undefined;
    // The site is cached too (CACHE_TTL_MS); its allowed origins decide the CORS headers.
    const site = await deps.sites.get(siteId);
    if (!site) return undefined;

    const given = req.headers.get('x-request-id');
    const headers: Record<string, string> = {
      'X-Request-Id': given && REQUEST_ID.test(given) ? given : randomUUID(),
      Vary: 'Origin',
      'Cache-Control': 'public, max-age=1',
      ETag: page.etag,
    };
    const origin = req.headers.get('origin');
    if (origin) {
      // Reads are public: an origin outside the site's list may read, as `*` (as siteCors does).
      headers['Access-Control-Allow-Origin'] = site.allowedOrigins.includes(origin) ? origin : '*';
      headers['Access-Control-Expose-Headers'] = 'etag, retry-after, location';
    }
    const inm = req.headers.get('if-none-match');
    const notModified = Boolean(inm?.split(',').some((t) => t.trim() === page.etag));
    const m = served[notModified ? 304 : 200];
    m.count.inc();
    m.time.observe((performance.now() - started) / 1000);
    if (notModified) return new Response(null, { status: 304, headers });
    headers['Content-Type'] = 'application/json';
    return new Response(page.body, { status: 200, headers });
  }

  return (req) => {
    if (req.method !== 'GET') return undefined;
    const m = THREAD_URL.exec(req.url);
    return m ? answer(req, m[1]!, m[2]!) : undefined;
  };
}
