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
import { defaultRules } from '../../moderation/rules';
import { EVENT_TYPES } from '../../webhooks/events';
import { FAVICON_PATH } from '../favicon';

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
// The engine's rule ids (plus the optional external provider), for the policy's rule switches.
const RULE_IDS = [...defaultRules.map((r) => r.id), 'external'];
const WEBHOOK_EVENTS = EVENT_TYPES;
// The site's own limits (policy.floodControl), in place of the server's RATE_SUBMIT_PER_* and RATE_REPORT_PER_*.
const FLOOD_SCOPES = [
  ['perIp', 'Per reader (address)'],
  ['perAuthor', 'Per author (email)'],
  ['perArticle', 'Per article, everyone'],
  ['reportsPerIp', 'Reports per reader'],
  ['reportsPerComment', 'Reports per comment'],
] as const;

const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Parley moderation</title>
<link rel="stylesheet" href="/moderation/app.css">
<link rel="icon" href="${FAVICON_PATH}" type="image/svg+xml">
</head>
<body>
<main id="signin-view" hidden>
<form id="signin">
  <h1>Parley moderation</h1>
  <label>Email <input id="email" type="email" autocomplete="username" required></label>
  <label>Password <input id="password" type="password" autocomplete="current-password" required></label>
  <button type="submit">Sign in</button>
  <p id="signin-error" role="alert"></p>
</form>
</main>
<div id="app" hidden>
<header class="top">
  <h1>Parley</h1>
  <label class="inline">Site <select id="site"></select></label>
  <div class="views" role="group" aria-label="Views">
    <button type="button" data-view="queue" aria-pressed="true">Queue</button>
    <button type="button" data-view="history" aria-pressed="false">History</button>
    <button type="button" data-view="settings" aria-pressed="false" hidden>Settings</button>
  </div>
  <span class="grow"></span>
  <button type="button" id="help-toggle" aria-controls="help" aria-expanded="false">Keys <kbd>?</kbd></button>
  <span id="who" class="muted"></span>
  <button type="button" id="signout">Sign out</button>
</header>
<main>
<p id="status" role="status" aria-live="polite"></p>
<div id="queue-view">
  <div class="toolbar">
    <nav aria-label="Queues">${QUEUES.map((q) => `<button type="button" data-queue="${q}">${q}</button>`).join('')}</nav>
    <span class="grow"></span>
    <label class="inline">Reject reason <select id="reason">${REASONS.map((r) => `<option value="${r}">${r.replace('_', ' ')}</option>`).join('')}</select></label>
    <button type="button" id="bulk-approve">Approve selected</button>
    <button type="button" id="bulk-reject">Reject selected</button>
  </div>
  <section id="help" hidden aria-label="Keyboard shortcuts">
    <p><kbd>j</kbd>/<kbd>k</kbd> next/previous · <kbd>a</kbd> approve · <kbd>r</kbd> reject (reason above) · <kbd>b</kbd> ban author · <kbd>u</kbd> undo · <kbd>x</kbd> select · <kbd>h</kbd> history · <kbd>?</kbd> help</p>
  </section>
  <div class="split">
    <ul id="list" aria-label="Queue"></ul>
    <section id="detail" aria-live="polite" aria-label="Comment"></section>
  </div>
</div>
<section id="history-view" hidden aria-labelledby="history-title">
  <h2 id="history-title">Decision history</h2>
  <table class="grid"><thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Reason</th><th scope="col">By</th><th scope="col">Comment</th></tr></thead><tbody id="history-rows"></tbody></table>
  <button type="button" id="history-more" hidden>Load more</button>
</section>
<section id="settings-view" hidden data-rules="${RULE_IDS.join(',')}" data-events="${WEBHOOK_EVENTS.join(',')}">
  <form id="site-settings" class="card">
    <h2>Embed and privacy</h2>
    <label for="origins">Allowed embed origins <span class="muted">(one per line, such as https://news.example)</span></label>
    <textarea id="origins" rows="4" spellcheck="false"></textarea>
    <div class="row">
      <label>Reports before a comment is queued <input id="report-threshold" type="number" min="1" max="1000" required></label>
      <label>Keep submission context (days) <input id="retention-days" type="number" min="1" max="3650" required></label>
      <label>On erasure <select id="erase-mode"><option value="anonymise">keep the text, remove the author</option><option value="delete">delete the comments</option></select></label>
    </div>
    <button type="submit">Save</button>
  </form>
  <form id="policy" class="card">
    <h2>Moderation policy</h2>
    <p id="policy-version" class="muted"></p>
    <div class="row">
      <label class="check"><input id="premoderate" type="checkbox"> Hold every comment for a moderator (premoderation)</label>
      <label>Hold a new author's first comments until one is approved <input id="new-commenter-hold" type="number" min="0" max="1000"></label>
      <label>Readers may edit their comment for (seconds; 0: no editing) <input id="edit-window" type="number" min="0" max="604800" step="1"></label>
    </div>
    <h3>Thresholds</h3>
    <p class="muted">A score at or above <em>hold</em> holds the comment for a moderator; at or above <em>reject</em> rejects it.</p>
    <table class="grid"><thead><tr><th scope="col">Category</th><th scope="col">Hold at</th><th scope="col">Reject at</th></tr></thead><tbody id="thresholds"></tbody></table>
    <h3>Rules</h3>
    <p class="muted">A rule in shadow mode records what it would have done without changing the outcome.</p>
    <table class="grid"><thead><tr><th scope="col">Rule</th><th scope="col">On</th><th scope="col">Shadow</th></tr></thead><tbody id="rules"></tbody></table>
    <h3>Words</h3>
    <div class="row">
      <label>Banned (reject), one per line <textarea id="words-banned" rows="4" spellcheck="false"></textarea></label>
      <label>Suspect (hold), one per line <textarea id="words-suspect" rows="4" spellcheck="false"></textarea></label>
      <label>Allowed (never match), one per line <textarea id="words-allowed" rows="4" spellcheck="false"></textarea></label>
    </div>
    <label>Built-in English profanity list <select id="words-builtin"><option value="off">off</option><option value="suspect">hold</option><option value="banned">reject</option></select></label>
    <h3>Flood control</h3>
    <p class="muted" id="flood-help">A comment or reader report over a limit is refused (429) before anything is stored. Leave a row empty to keep the server's limit; 0 comments turns that limit off on this site.</p>
    <table class="grid" aria-describedby="flood-help"><thead><tr><th scope="col">Limit</th><th scope="col">Comments</th><th scope="col">Per seconds</th></tr></thead><tbody id="flood">
${FLOOD_SCOPES.map(
  ([scope, label]) =>
    `<tr><th scope="row">${label}</th><td><input type="number" min="0" max="1000000" step="1" placeholder="server's" data-flood="${scope}.points" aria-label="${label}: comments"></td><td><input type="number" min="1" max="86400" step="1" placeholder="server's" data-flood="${scope}.seconds" aria-label="${label}: per seconds"></td></tr>`,
).join('\n')}
    </tbody></table>
    <div class="actions">
      <button type="button" id="policy-preview">Preview the change (what-if)</button>
      <button type="submit" id="policy-save" disabled>Save policy</button>
      <span id="policy-hint" class="muted">Preview the change before saving it.</span>
    </div>
    <div id="whatif" aria-live="polite"></div>
    <details id="policy-history">
      <summary>Earlier versions</summary>
      <p class="muted">Restoring loads a version into the form above; preview it, then save it as a new version.</p>
      <table class="grid"><thead><tr><th scope="col">Version</th><th scope="col">Saved by</th><th scope="col">When</th><th scope="col"><span class="sr">Actions</span></th></tr></thead><tbody id="policy-versions"></tbody></table>
    </details>
  </form>
  <section class="card" aria-labelledby="members-title">
    <h2 id="members-title">Moderators</h2>
    <table class="grid"><thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col"><span class="sr">Actions</span></th></tr></thead><tbody id="members"></tbody></table>
    <form id="member-add" class="row">
      <label>Email <input id="member-email" type="email" required></label>
      <label>Role <select id="member-role"><option value="moderator">moderator</option><option value="admin">admin</option></select></label>
      <label>Name <input id="member-name" maxlength="100"></label>
      <label>Password <span class="muted">(new accounts only)</span> <input id="member-password" type="password" minlength="10" autocomplete="new-password"></label>
      <button type="submit">Add</button>
    </form>
  </section>
  <section class="card" aria-labelledby="tokens-title">
    <h2 id="tokens-title">API tokens</h2>
    <table class="grid"><thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="sr">Actions</span></th></tr></thead><tbody id="tokens"></tbody></table>
    <form id="token-add" class="row">
      <label>Name <input id="token-name" maxlength="100" required></label>
      <label>Role <select id="token-role"><option value="moderator">moderator</option><option value="admin">admin</option></select></label>
      <button type="submit">Create token</button>
    </form>
    <div id="token-created" class="secret" hidden></div>
  </section>
  <section class="card" aria-labelledby="webhooks-title">
    <h2 id="webhooks-title">Webhooks</h2>
    <table class="grid"><thead><tr><th scope="col">URL</th><th scope="col">Events</th><th scope="col">State</th><th scope="col"><span class="sr">Actions</span></th></tr></thead><tbody id="endpoints"></tbody></table>
    <form id="endpoint-add">
      <div class="row">
        <label>URL <input id="endpoint-url" type="url" required placeholder="https://cms.example/hooks/parley"></label>
        <label>Description <input id="endpoint-description" maxlength="500"></label>
      </div>
      <fieldset><legend>Events <span class="muted">(none ticked: every event)</span></legend><div id="endpoint-events" class="row"></div></fieldset>
      <button type="submit">Add endpoint</button>
    </form>
    <div id="endpoint-created" class="secret" hidden></div>
    <div id="endpoint-tools" aria-live="polite"></div>
    <div id="deliveries" aria-live="polite"></div>
  </section>
  <section class="card" aria-labelledby="privacy-title">
    <h2 id="privacy-title">Privacy requests</h2>
    <p class="muted">Everything stored about one author on this site, found by their email. Erasure follows the site's "On erasure" setting above and cannot be undone.</p>
    <form id="privacy" class="row">
      <label>Author's email <input id="privacy-email" type="email" maxlength="320" required autocomplete="off"></label>
      <button type="submit" id="privacy-export">Download export (JSON)</button>
      <button type="button" id="privacy-erase">Erase…</button>
    </form>
    <div id="erase-confirm" class="danger" hidden></div>
  </section>
</section>
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
