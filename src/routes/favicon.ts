/**
 * One small icon for Parley's own pages (demo article, moderation, API reference). Without it
 * every page load logs a 404 for /favicon.ico in the browser console, which looks like a fault
 * to anyone checking the embed. The pages link it explicitly, so /favicon.ico is never asked for.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../deps';

export const FAVICON_PATH = '/favicon.svg';

// A speech bubble, in the embed's button blue.
const SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">' +
  '<path fill="#0b57d0" d="M6 4h20a4 4 0 0 1 4 4v12a4 4 0 0 1-4 4H14l-7 6v-6H6a4 4 0 0 1-4-4V8a4 4 0 0 1 4-4z"/>' +
  '<path fill="#fff" d="M9 11h14v2H9zm0 5h10v2H9z"/></svg>';

export function mountFavicon(app: OpenAPIHono<AppEnv>): void {
  app.get(FAVICON_PATH, (c) =>
    c.body(SVG, 200, {
      'content-type': 'image/svg+xml',
      'cache-control': 'public, max-age=86400',
      'x-content-type-options': 'nosniff',
    }),
  );
}
