/**
 * The demo article page at `/`: a made-up news story that embeds the widget exactly as a
 * publisher would (one script tag, plus a count tag in the byline), under a strict
 * Content-Security-Policy with no inline script or style, so the Quickstart shows the real thing.
 */
import { createHash } from 'node:crypto';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { html } from 'hono/html';
import type { AppDeps, AppEnv } from '../../deps';
import { FAVICON_PATH } from '../favicon';
import { DEMO_CSS } from './demo.css';

export const DEMO_SITE_ID = 'site_demo';
export const DEMO_ARTICLE_ID = 'demo-article';

/** What a careful publisher would send: nothing inline, scripts and requests only to Parley. */
export const DEMO_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const cssEtag = `"${createHash('sha256').update(DEMO_CSS).digest('hex').slice(0, 16)}"`;

export function mountDemo(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  app.get('/demo.css', (c) => {
    c.header('ETag', cssEtag);
    c.header('Cache-Control', 'public, max-age=300');
    if (c.req.header('if-none-match') === cssEtag) return c.body(null, 304);
    return c.body(DEMO_CSS, 200, { 'content-type': 'text/css; charset=utf-8' });
  });

  app.get('/', async (c) => {
    const site = await deps.sites.get(DEMO_SITE_ID);
    c.header('Content-Security-Policy', DEMO_CSP);
    c.header('Referrer-Policy', 'strict-origin-when-cross-origin');
    c.header('X-Content-Type-Options', 'nosniff');
    return c.html(html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="color-scheme" content="light dark" />
    <title>Harbour town votes to keep its lighthouse lit - The Parley Gazette</title>
    <link rel="canonical" href="${new URL('/', c.req.url).toString()}" />
    <link rel="stylesheet" href="/demo.css" />
    <link rel="icon" href="${FAVICON_PATH}" type="image/svg+xml" />
  </head>
  <body>
    <header>The Parley Gazette <small>a made-up newspaper for trying Parley</small></header>
    <main>
      <article>
        <p class="kicker">Local news</p>
        <h1>Harbour town votes to keep its lighthouse lit</h1>
        <p class="byline">By A. Reporter · 27 November ·
          ${
            site
              ? html`<a href="#comments"><span data-parley-count data-article="${DEMO_ARTICLE_ID}">Comments</span></a>`
              : ''
          }</p>
        <p>After a three-hour meeting, the council of a small harbour town voted seven to two to keep
        its 140-year-old lighthouse burning every night, despite the cost of the new lamp.</p>
        <p>Fishing crews said the light still guides them home when their instruments fail. The
        treasurer warned the repairs would delay the new footpath by a year.</p>
        <p>What do you think: heritage worth paying for, or money better spent elsewhere?</p>
      </article>
      ${
        site
          ? html`<section id="comments">
              <script src="/embed.js" data-site="${site.id}" data-article="${DEMO_ARTICLE_ID}" async></script>
              <noscript><p class="note">Comments need JavaScript.</p></noscript>
            </section>`
          : html`<p class="note">No demo site exists. Start Parley with DEMO=true on an empty database, or create a site with
              <code>npm run parley -- site create</code>.</p>`
      }
    </main>
    <footer>Moderators: <a href="/moderation">moderation</a> · Engineers: <a href="/docs">API reference</a> ·
      Publishers: this page embeds Parley with one script tag; view its source.</footer>
  </body>
</html>`);
  });
}
