/**
 * Serves the reader-facing scripts, built once per process from src/embed/ (see
 * scripts/build-embed.ts) and held in memory, pre-compressed with brotli and gzip.
 *
 * - /embed.js and /count.js: the URLs publishers paste. Short max-age plus a content-hash ETag, so
 *   a release reaches readers within minutes and a revalidation is a 304.
 * - /embed.<hash>.js and /count.<hash>.js: the same bytes under a versioned URL, cached immutably
 *   for a year; an outdated hash redirects to the current script.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { buildEmbed, type EmbedAsset } from '../../../scripts/build-embed';
import type { AppDeps, AppEnv } from '../../deps';
import { chooseCoding } from '../../lib/content-coding';
import { AppError } from '../../lib/errors';

const builds = new Map<number, Promise<Map<string, EmbedAsset>>>();

/** One build per process (per COMMENT_MAX_CHARS): tests create many apps, servers one. */
export function embedAssets(maxChars: number): Promise<Map<string, EmbedAsset>> {
  let p = builds.get(maxChars);
  if (!p) {
    p = buildEmbed({ maxChars }).then((list) => new Map(list.map((a) => [a.name, a])));
    builds.set(maxChars, p);
    // A failed build is retried on the next request rather than cached forever.
    p.catch(() => builds.delete(maxChars));
  }
  return p;
}

const FILE = /^(embed|count)(?:\.([0-9a-f]{16}))?\.js$/;

export function mountEmbed(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  const assets = () => embedAssets(deps.config.COMMENT_MAX_CHARS);
  // Build while the server starts, so the first reader does not wait for it.
  assets().catch((err) => deps.logger.error({ err }, 'embed build failed'));

  app.get('/:file{(?:embed|count)(?:\\.[0-9a-f]{16})?\\.js}', async (c: Context<AppEnv>) => {
    const m = FILE.exec(c.req.param('file') ?? '');
    if (!m) throw AppError.notFound('Route');
    let asset: EmbedAsset | undefined;
    try {
      asset = (await assets()).get(`${m[1]}.js`);
    } catch (err) {
      c.get('log').error({ err }, 'embed build failed');
      throw AppError.unavailable('The embed script is not available right now');
    }
    if (!asset) throw AppError.notFound('Script');
    const versioned = m[2] !== undefined;
    if (versioned && m[2] !== asset.hash) return c.redirect(`/${m[1]}.js`, 302);

    const etag = `"${asset.hash}"`;
    c.header('ETag', etag);
    c.header(
      'Cache-Control',
      versioned ? 'public, max-age=31536000, immutable' : 'public, max-age=300, stale-while-revalidate=86400',
    );
    c.header('Vary', 'Accept-Encoding');
    c.header('X-Content-Type-Options', 'nosniff');
    // Publishers' pages may set Cross-Origin-Embedder-Policy: require-corp.
    c.header('Cross-Origin-Resource-Policy', 'cross-origin');
    c.header('Access-Control-Allow-Origin', '*');
    const inm = c.req.header('if-none-match');
    if (inm?.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) return c.body(null, 304);

    c.header('Content-Type', 'text/javascript; charset=utf-8');
    const enc = chooseCoding(c.req.header('accept-encoding'));
    if (enc) c.header('Content-Encoding', enc);
    const body = enc === 'br' ? asset.brotli : enc === 'gzip' ? asset.gzip : asset.code;
    return c.body(new Uint8Array(body), 200);
  });
}
