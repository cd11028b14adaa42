/**
 * Thread pages are the most frequent request by far, and a cached page costs a map lookup; the
 * router and the general middleware chain (request id and logger, metrics, body limit, client
 * address, CORS, zod validation of params and query) cost several times that per read. This runs
 * in front of both, twice over: on node:http before @hono/node-server builds its Request (src/entry.ts),
 * and in the app's fetch for anything that reaches it (src/app.ts; app.request in tests). It
 * answers a GET whose page is held and fresh in this process's thread cache, for a site it holds,
 * synchronously (a promise would cost the adapter its fast way of writing the response), with exactly the headers the full route sends: CORS
 * (Vary: Origin, the allowed origin or `*` for reads), ETag and 304 for a matching If-None-Match,
 * the compressed form the client accepts (Content-Encoding, Vary: Accept-Encoding),
 * Cache-Control, X-Request-Id, and the request metrics. Anything else (no fresh page, an unknown
 * site, ids or a query string that need decoding, HEAD) goes down the normal path unchanged,
 * which also fills the cache. Freshness is the cache's: a page is served only within
 * THREAD_CACHE_MS of its last check against the database.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppDeps } from '../../deps';
import { pickForm } from '../../lib/content-coding';
import { CORS_EXPOSE_HEADERS } from '../../lib/http';
import { metrics } from '../../lib/metrics';
import { threadCacheFor } from '../../services/thread-cache';

/** The thread route's pattern, as the OpenAPI route registers it (and as metrics label it). */
export const THREAD_PATH = '/api/v1/sites/:siteId/articles/:articleId/comments';
/**
 * A thread page differs by origin (CORS) and by Accept-Encoding (compressed forms), on every
 * answer, 304s and uncompressed ones included, so shared caches keep the variants apart.
 */
export const THREAD_VARY = 'Origin, Accept-Encoding';

/** Query values taken as they are; anything needing decoding goes down the normal path. */
const PLAIN = /^[A-Za-z0-9_.~-]{1,200}$/;
const LIMIT = /^(?:[1-9][0-9]?|100)$/;
/** What Hono's requestId middleware accepts from the client. */
export const REQUEST_ID = /^[\w\-=]{1,64}$/;

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

/** The thread route's path (and query) with ids that need no decoding; else left to the router. */
const THREAD_TARGET =
  /^\/api\/v1\/sites\/([A-Za-z0-9_-]{1,64})\/articles\/([A-Za-z0-9_.~-]{1,200})\/comments(?=\?|$)/;
/**
 * The Host values @hono/node-server accepts without parsing a URL. Anything else (or none) goes
 * the full way, so a bad Host still gets the adapter's 400 and odd ones its normalisation.
 */
export const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;

/** A fast answer, independent of the server interface that writes it. */
export interface FastAnswer {
  status: 200 | 304;
  headers: Record<string, string>;
  body: string | Buffer | null;
}

export interface ThreadFastPath {
  /**
   * The answer for a request target (path and query, as on the wire) if the page is held and
   * fresh, else undefined. Synchronous: the page and the site come from this process's caches.
   */
  plan(
    method: string,
    target: string,
    header: (name: string) => string | null | undefined,
  ): FastAnswer | undefined;
  /** For the app's fetch (and app.request in tests): a Response, or undefined to route normally. */
  fetch(req: Request): Response | undefined;
  /**
   * For a node:http server, in front of @hono/node-server's listener: writes the answer and returns
   * true, or returns false having touched nothing. Skips building the adapter's Request, Headers
   * and Response objects: about 7 % of a cached read's CPU (`bench/compare.ts reads`, eight pairs).
   */
  node(req: IncomingMessage, res: ServerResponse): boolean;
}

/**
 * Answers a GET of a thread page from the caches, before Hono's router (routing alone was about a
 * tenth of a cached read's CPU). Anything it cannot answer exactly as the route would is left to
 * the app.
 */
export function threadFastPath(deps: AppDeps): ThreadFastPath {
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

  function plan(
    method: string,
    target: string,
    header: (name: string) => string | null | undefined,
  ): FastAnswer | undefined {
    if (method !== 'GET') return undefined;
    const m = THREAD_TARGET.exec(target);
    if (!m) return undefined;
    const siteId = m[1]!;
    const articleId = m[2]!;
    // A dot segment means something else once a URL parser has read the path.
    if (articleId === '.' || articleId === '..') return undefined;
    const started = performance.now();
    const q = plainThreadQuery(target);
    if (!q) return undefined;
    const page = threads.peek({ siteId, articleId, order: q.order, limit: q.limit, cursor: q.cursor });
    if (!page?.etag) return undefined;
    // The site's allowed origins decide the CORS headers; a site not held goes the full way.
    const site = deps.sites.peek(siteId);
    if (!site) return undefined;

    const given = header('x-request-id');
    const headers: Record<string, string> = {
      'X-Request-Id': given && REQUEST_ID.test(given) ? given : randomUUID(),
      Vary: THREAD_VARY,
      'Cache-Control': 'public, max-age=1',
      ETag: page.etag,
    };
    const origin = header('origin');
    if (origin) {
      // Reads are public: an origin outside the site's list may read, as `*` (as siteCors does).
      headers['Access-Control-Allow-Origin'] = site.allowedOrigins.includes(origin) ? origin : '*';
      headers['Access-Control-Expose-Headers'] = CORS_EXPOSE_HEADERS;
    }
    const inm = header('if-none-match');
    const notModified = Boolean(inm?.split(',').some((t) => t.trim() === page.etag));
    const mt = served[notModified ? 304 : 200];
    mt.count.inc();
    mt.time.observe((performance.now() - started) / 1000);
    if (notModified) return { status: 304, headers, body: null };
    headers['Content-Type'] = 'application/json';
    const form = pickForm(page.body, page.compressed, header('accept-encoding'));
    if (form.coding) headers['Content-Encoding'] = form.coding;
    return { status: 200, headers, body: form.body };
  }

  return {
    plan,
    fetch(req) {
      if (req.method !== 'GET') return undefined;
      const url = req.url;
      const a = plan('GET', url.slice(url.indexOf('/', url.indexOf('//') + 2)), (n) => req.headers.get(n));
      if (!a) return undefined;
      const body = typeof a.body === 'string' || a.body === null ? a.body : new Uint8Array(a.body);
      return new Response(body, { status: a.status, headers: a.headers });
    },
    node(req, res) {
      const target = req.url;
      if (req.method !== 'GET' || !target || target.charCodeAt(0) !== 47) return false;
      const host = req.headers.host;
      if (!host || !PLAIN_HOST.test(host)) return false;
      const a = plan('GET', target, (n) => {
        const v = req.headers[n];
        return typeof v === 'string' ? v : undefined;
      });
      if (!a) return false;
      if (a.body === null) {
        res.writeHead(a.status, a.headers);
        res.end();
      } else {
        a.headers['Content-Length'] = String(Buffer.byteLength(a.body));
        res.writeHead(a.status, a.headers);
        res.end(a.body);
      }
      return true;
    },
  };
}
