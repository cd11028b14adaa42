/**
 * The moderation web UI under /moderation: a server-rendered shell, one small script and one
 * stylesheet, served under a strict Content-Security-Policy (no inline script or style at all).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { AppEnv } from '../../deps';

const dir = path.dirname(fileURLToPath(import.meta.url));
const script = readFileSync(path.join(dir, 'app.js'));
const styles = readFileSync(path.join(dir, 'app.css'));

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const QUEUES = ['held', 'reported', 'pending', 'approved', 'rejected'];
const REASONS = ['spam', 'offensive', 'abusive', 'harassment', 'hate_speech', 'off_topic', 'other'];

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Parley moderation</title>
<link rel="stylesheet" href="/moderation/app.css">
</head>
<body>
<form id="signin" hidden>
  <h1>Parley moderation</h1>
  <label>Email <input id="email" type="email" autocomplete="username" required></label>
  <label>Password <input id="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in</button>
  <p id="signin-error" role="alert"></p>
</form>
<div id="app" hidden>
<header>
  <h1>Parley</h1>
  <select id="site" aria-label="Site"></select>
  <nav aria-label="Queues">${QUEUES.map((q) => `<button type="button" data-queue="${q}">${q}</button>`).join('')}</nav>
  <label>Reject reason <select id="reason">${REASONS.map((r) => `<option value="${r}">${r.replace('_', ' ')}</option>`).join('')}</select></label>
  <button type="button" id="bulk-approve">Approve selected</button>
  <button type="button" id="bulk-reject">Reject selected</button>
  <span id="who" class="muted"></span>
  <button type="button" id="signout">Sign out</button>
</header>
<p id="status" role="status" aria-live="polite"></p>
<section id="help" hidden>
  <p><kbd>j</kbd>/<kbd>k</kbd> next/previous · <kbd>a</kbd> approve · <kbd>r</kbd> reject (reason above) · <kbd>b</kbd> ban author · <kbd>u</kbd> undo · <kbd>x</kbd> select · <kbd>h</kbd> history · <kbd>?</kbd> help</p>
</section>
<main>
  <ul id="list" aria-label="Queue"></ul>
  <section id="detail" aria-live="polite"></section>
</main>
</div>
<script src="/moderation/app.js"></script>
</body>
</html>`;

function secure(c: Context) {
  c.header('Content-Security-Policy', CSP);
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Referrer-Policy', 'no-referrer');
  c.header('X-Frame-Options', 'DENY');
}

export function mountModerationUi(app: OpenAPIHono<AppEnv>): void {
  app.get('/moderation', (c) => {
    secure(c);
    c.header('Cache-Control', 'no-store');
    return c.html(SHELL);
  });
  app.get('/moderation/app.js', (c) => {
    secure(c);
    return c.body(new Uint8Array(script), 200, {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'no-cache',
    });
  });
  app.get('/moderation/app.css', (c) => {
    secure(c);
    return c.body(new Uint8Array(styles), 200, {
      'content-type': 'text/css; charset=utf-8',
      'cache-control': 'no-cache',
    });
  });
}
