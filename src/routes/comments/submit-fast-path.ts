/**
 * Comment submissions are the hot write: on breaking news they arrive by the thousand a second.
 * Hono's router, the middleware chain and @hono/node-server's Request and Response objects cost
 * about a third of the API's CPU per submission (`bench/compare.ts ingest`), which is why this
 * takes a plain submission on node:http itself, before the adapter (src/entry.ts).
 *
 * It takes only a request it can answer exactly as the OpenAPI route would, and decides that from
 * the request line and headers alone, before reading a byte of the body: a POST to the submission
 * path with ids that need no decoding, a Host the adapter would not rewrite, a JSON Content-Type
 * (once, no parameters but charset=utf-8), a declared Content-Length within MAX_BODY_BYTES, no
 * Transfer- or Content-Encoding, a site held in this process's cache and an Origin it allows.
 * Anything else goes down the full route, untouched, which also fills the site cache.
 *
 * What follows is the route's own work, shared rather than copied: the body is read as jsonBody
 * reads it (readJsonObject), validated with the route's zod schema, submitted by submitComment,
 * and errors are written through problemParts, the one error mapping. The response carries the
 * route's headers (X-Request-Id, Vary: Origin and the CORS pair, Location) and the request
 * metrics; test/integration/submit-fast-path.test.ts holds the two paths to the same answers.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppDeps } from '../../deps';
import { clientIp } from '../../lib/client-ip';
import { AppError, problemParts, toAppError, zodIssues } from '../../lib/errors';
import { CORS_EXPOSE_HEADERS, readJsonObject } from '../../lib/http';
import { metrics } from '../../lib/metrics';
import type { SiteRecord } from '../../repositories/sites';
import { ArticleParams, submitCommentSchema } from './comments.schemas';
import { submitComment } from './submit';
import { PLAIN_HOST, REQUEST_ID, THREAD_PATH } from './thread-fast-path';

/** The submission route's path with ids that need no decoding, and no query string. */
const SUBMIT_TARGET =
  /^\/api\/v1\/sites\/([A-Za-z0-9_-]{1,64})\/articles\/([A-Za-z0-9_.~-]{1,200})\/comments$/;
const JSON_TYPES = new Set([
  'application/json',
  'application/json; charset=utf-8',
  'application/json;charset=utf-8',
]);
const DIGITS = /^\d{1,9}$/;

export interface SubmitFastPath {
  /**
   * Takes the request and returns true (the answer follows once the body has arrived), or returns
   * false having touched nothing, for the full route to handle.
   */
  node(req: IncomingMessage, res: ServerResponse): boolean;
  /** How many submissions it has taken, for tests that must know which path answered. */
  readonly taken: number;
}

/** True if the header occurs more than once (node keeps only the first of some headers). */
function repeated(raw: string[], lowerName: string): boolean {
  let seen = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName && ++seen > 1) return true;
  }
  return false;
}

export function submitFastPath(deps: AppDeps): SubmitFastPath {
  const schema = submitCommentSchema(deps.config.COMMENT_MAX_CHARS);
  const maxBody = deps.config.MAX_BODY_BYTES;
  const labels = (status: number) => ({ method: 'POST', route: THREAD_PATH, status: String(status) });
  const accepted = {
    count: metrics.httpRequests.labels(labels(202)),
    time: metrics.httpDuration.labels(labels(202)),
  };
  let taken = 0;

  async function answer(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    facts: { siteId: string; articleId: string; site: SiteRecord },
    headers: Record<string, string>,
    started: number,
  ): Promise<void> {
    const requestId = headers['X-Request-Id']!;
    let status: number;
    let text: string;
    try {
      const { value } = readJsonObject(body);
      const parsed = schema.safeParse(value);
      if (!parsed.success) throw AppError.validation(zodIssues(parsed.error));
      const h = req.headers;
      // Field by field, not `{ ...facts, ... }`: on Node 20 an object literal that starts with a
      // spread kept each request's objects alive past young-generation collections
      // (docs/performance.md, round 18).
      const done = await submitComment(deps, {
        siteId: facts.siteId,
        articleId: facts.articleId,
        site: facts.site,
        input: parsed.data,
        idempotencyKey: h['idempotency-key'] as string | undefined,
        userAgent: h['user-agent'],
        referer: h.referer,
        origin: h.origin,
        clientIp: clientIp(
          req.socket.remoteAddress,
          h['x-forwarded-for'] as string | undefined,
          deps.config.TRUSTED_PROXIES,
        ),
        requestId,
      });
      status = 202;
      text = JSON.stringify(done.body);
      headers.Location = done.location;
      headers['Content-Type'] = 'application/json';
    } catch (err) {
      const appErr = toAppError(err);
      if (appErr.status >= 500) {
        deps.logger.error({ err, requestId, path: req.url }, 'unhandled error');
      }
      const p = problemParts(appErr);
      status = p.status;
      text = p.body;
      Object.assign(headers, p.headers);
    }
    headers['Content-Length'] = String(Buffer.byteLength(text));
    res.writeHead(status, headers);
    res.end(text);

    const seconds = (performance.now() - started) / 1000;
    if (status === 202) {
      accepted.count.inc();
      accepted.time.observe(seconds);
    } else {
      metrics.httpRequests.inc(labels(status));
      metrics.httpDuration.observe(labels(status), seconds);
    }
    const ms = Math.round(seconds * 10_000) / 10;
    const line = { requestId, method: 'POST', path: req.url, status, ms };
    if (status >= 500) deps.logger.error(line, 'request failed');
    else if (deps.logger.isLevelEnabled('debug')) deps.logger.debug(line, 'request');
  }

  return {
    get taken() {
      return taken;
    },
    node(req, res) {
      if (req.method !== 'POST') return false;
      const m = SUBMIT_TARGET.exec(req.url ?? '');
      if (!m) return false;
      const siteId = m[1]!;
      const articleId = m[2]!;
      // A dot segment means something else once a URL parser has read the path.
      if (articleId === '.' || articleId === '..') return false;
      const h = req.headers;
      if (!h.host || !PLAIN_HOST.test(h.host)) return false;
      const type = h['content-type'];
      if (!type || !JSON_TYPES.has(type.toLowerCase())) return false;
      const length = h['content-length'];
      if (!length || !DIGITS.test(length) || Number(length) > maxBody) return false;
      if (h['transfer-encoding'] !== undefined || h['content-encoding'] !== undefined) return false;
      const site = deps.sites.peek(siteId);
      if (!site) return false;
      const origin = h.origin;
      if (origin !== undefined && !site.allowedOrigins.includes(origin)) return false;
      // Node keeps the first of a repeated Content-Type; the route sees them all, and refuses.
      if (repeated(req.rawHeaders, 'content-type')) return false;
      if (!ArticleParams.safeParse({ siteId, articleId }).success) return false;

      taken++;
      const started = performance.now();
      const given = h['x-request-id'];
      const headers: Record<string, string> = {
        'X-Request-Id': typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID(),
        Vary: 'Origin',
      };
      if (origin) {
        headers['Access-Control-Allow-Origin'] = origin;
        headers['Access-Control-Expose-Headers'] = CORS_EXPOSE_HEADERS;
      }
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      // A client that goes away mid-body: nothing was read, so nothing is stored or answered.
      req.on('error', () => {});
      req.on('end', () => {
        const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        answer(req, res, body, { siteId, articleId, site }, headers, started).catch((err: unknown) => {
          deps.logger.error({ err, path: req.url }, 'submission fast path failed');
          if (!res.headersSent) {
            res.writeHead(500, { 'Content-Type': 'application/problem+json' });
            res.end(problemParts(toAppError(err)).body);
          }
        });
      });
      return true;
    },
  };
}
