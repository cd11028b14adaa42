/** Request-level middleware shared by the routes: JSON bodies, per-site CORS, client address. */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { MiddlewareHandler } from 'hono';
import type { AppDeps, AppEnv } from '../deps';
import { clientIp } from './client-ip';
import { AppError } from './errors';

export const SITE_ID = /^[a-z0-9_-]{1,64}$/i;
/** The response headers a site's pages may read cross-origin (siteCors and both fast paths send it). */
export const CORS_EXPOSE_HEADERS = 'etag, retry-after, location';
const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_PARAM = new RegExp(`^${TOKEN}=(${TOKEN}|"([^"\\\\]|\\\\.)*")$`);
/** What @hono/zod-openapi's media-type gate accepts for a JSON body. */
const STRICT_JSON_TYPE = /^application\/([a-z-.]+\+)?json(;\s*[a-zA-Z0-9-]+=([^;]+))*$/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Writes accept JSON only: a cross-origin JSON POST always needs a CORS preflight, so a page on
 * another origin cannot post a comment in a reader's name with a plain form. Bodies must be valid
 * UTF-8 and valid JSON; the parsed value is handed to the route's zod validator.
 */
export function jsonBody(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (
      c.req.method === 'GET' ||
      c.req.method === 'HEAD' ||
      c.req.method === 'OPTIONS' ||
      c.req.method === 'DELETE'
    ) {
      return next();
    }
    const contentType = c.req.header('content-type') ?? '';
    const [type = '', ...params] = contentType.split(';');
    // RFC 9110: parameters are `token=token` or `token="quoted"`, separated by `;` with optional
    // whitespace, and may be empty (`application/json;;`). Anything else is not a media type.
    if (!JSON_TYPE.test(type.trim()) || !params.every((p) => p.trim() === '' || MEDIA_PARAM.test(p.trim()))) {
      throw new AppError(415, 'unsupported_media_type', 'Send the request body as application/json');
    }
    // JSON is UTF-8 (RFC 8259); a body declared otherwise would be read as something it is not.
    const charset = params
      .map((p) => p.trim().toLowerCase())
      .find((p) => p.startsWith('charset='))
      ?.slice(8)
      .replace(/^"|"$/g, '');
    if (charset && charset !== 'utf-8' && charset !== 'utf8') {
      throw new AppError(415, 'unsupported_media_type', 'Send the request body as UTF-8 (charset=utf-8)');
    }
    // Nothing here decompresses: a gzip body would be parsed as bytes of garbage, or as text the
    // client did not mean. Refuse it plainly.
    const encoding = c.req.header('content-encoding')?.trim().toLowerCase();
    if (encoding && encoding !== 'identity') {
      throw new AppError(415, 'unsupported_media_type', 'Send the request body without Content-Encoding');
    }
    // Accepted here, so the route's own media-type check (@hono/zod-openapi's, stricter: no space
    // before a parameter's semicolon, no empty parameter) must agree: it reads the header again.
    if (!STRICT_JSON_TYPE.test(contentType)) c.req.raw.headers.set('content-type', 'application/json');
    const { text, value } = readJsonObject(await c.req.arrayBuffer());
    // Hand the route validators what was already read: hono's c.req.json() looks for the text in
    // bodyCache and, finding only the ArrayBuffer, would build a Fetch Response to decode it again.
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
    (c.req.bodyCache as Record<string, unknown>).json = Promise.resolve(value);
    return next();
  };
}

/**
 * A request body as a JSON object, or the 400 that says why not. Shared by jsonBody and the
 * submission fast path, so both refuse the same bodies with the same words.
 */
export function readJsonObject(buf: ArrayBuffer | Uint8Array): { text: string; value: object } {
  let text: string;
  try {
    text = utf8.decode(buf);
  } catch {
    throw new AppError(400, 'invalid_json', 'The request body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError(400, 'invalid_json', 'The request body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError(400, 'invalid_json', 'The request body must be a JSON object');
  }
  return { text, value };
}

export function withClientIp(deps: Pick<AppDeps, 'config'>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let peer: string | undefined;
    try {
      peer = getConnInfo(c).remote.address;
    } catch {
      peer = undefined; // in-process requests (tests) have no socket
    }
    c.set('clientIp', clientIp(peer, c.req.header('x-forwarded-for'), deps.config.TRUSTED_PROXIES));
    return next();
  };
}

/**
 * Loads the site named in the path and applies its CORS rules. Reads are public data and any
 * origin may make them; writes only from the site's registered origins. `Vary: Origin` keeps
 * caches from serving one origin's answer to another.
 */
export function siteCors(deps: Pick<AppDeps, 'sites'>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const siteId = c.req.param('siteId');
    // Checked before the lookup: a NUL or other junk must not reach Postgres as a query value.
    const site = siteId && SITE_ID.test(siteId) ? await deps.sites.get(siteId) : undefined;
    if (!site) throw AppError.notFound('Site');
    c.set('site', site);
    const origin = c.req.header('origin');
    const allowed = !origin || site.allowedOrigins.includes(origin);
    const isRead = c.req.method === 'GET' || c.req.method === 'HEAD';
    c.header('Vary', 'Origin', { append: true });

    if (c.req.method === 'OPTIONS') {
      const wantsWrite = (c.req.header('access-control-request-method') ?? 'GET').toUpperCase() !== 'GET';
      if (origin && (allowed || !wantsWrite)) {
        c.header('Access-Control-Allow-Origin', origin);
        c.header('Access-Control-Allow-Methods', wantsWrite ? 'GET, POST' : 'GET');
        c.header('Access-Control-Allow-Headers', 'content-type, idempotency-key, if-none-match');
        c.header('Access-Control-Max-Age', '600');
        return c.body(null, 204);
      }
      throw new AppError(403, 'origin_not_allowed', 'This origin may not post comments to this site');
    }
    if (!isRead && !allowed) {
      throw new AppError(403, 'origin_not_allowed', 'This origin may not post comments to this site');
    }
    if (origin) {
      c.header('Access-Control-Allow-Origin', isRead && !allowed ? '*' : origin);
      c.header('Access-Control-Expose-Headers', CORS_EXPOSE_HEADERS);
    }
    return next();
  };
}
