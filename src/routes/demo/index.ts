/** The demo article page at `/`: embeds the widget exactly as a publisher would. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { html } from 'hono/html';
import type { AppDeps, AppEnv } from '../../deps';

export const DEMO_SITE_ID = 'site_demo';
export const DEMO_ARTICLE_ID = 'demo-article';

export function mountDemo(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  app.get('/', async (c) => {
    const site = await deps.sites.get(DEMO_SITE_ID);
    c.header(
      'Content-Security-Policy',
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    );
    return c.html(html`<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Harbour town votes to keep its lighthouse lit - The Parley Gazette</title>
    <link rel="canonical" href="${new URL('/', c.req.url).toString()}" />
    <style>
      body { font: 18px/1.6 Georgia, serif; margin: 0; color: #1d1d1f; background: #fafaf7; }
      header { border-bottom: 1px solid #ddd; padding: 12px 20px; font: 600 20px system-ui, sans-serif; }
      main { max-width: 720px; margin: 0 auto; padding: 20px; }
      h1 { line-height: 1.2; }
      .byline { color: #555; font: 14px system-ui, sans-serif; }
      .note { background: #fff8e0; border: 1px solid #e8d89a; padding: 8px 12px; font: 14px system-ui, sans-serif; }
    </style>
  </head>
  <body>
    <header>The Parley Gazette</header>
    <main>
      <article>
        <h1>Harbour town votes to keep its lighthouse lit</h1>
        <p class="byline">By A. Reporter · A made-up article for trying Parley</p>
        <p>After a three-hour meeting, the council of a small harbour town voted seven to two to keep
        its 140-year-old lighthouse burning every night, despite the cost of the new lamp.</p>
        <p>Fishing crews said the light still guides them home when their instruments fail. The
        treasurer warned the repairs would delay the new footpath by a year.</p>
        <p>What do you think: heritage worth paying for, or money better spent elsewhere?</p>
      </article>
      ${
        site
          ? html`<section aria-label="Comments">
              <script src="/embed.js" data-site="${site.id}" data-article="${DEMO_ARTICLE_ID}" async></script>
            </section>`
          : html`<p class="note">No demo site exists. Start Parley with DEMO=true on an empty database, or create a site with
              <code>npm run parley -- site create</code>.</p>`
      }
      <p class="note">Moderators: <a href="/moderation">moderation</a> · Engineers: <a href="/docs">API reference</a></p>
    </main>
  </body>
</html>`);
  });
}
