/**
 * Site settings in the moderation UI, in Debian's Chromium: an admin changes the allowed origins and
 * a policy threshold (seeing the what-if numbers before saving), creates and revokes an API token and
 * adds a webhook endpoint whose delivery log and redelivery work; the database is checked after each
 * step. A moderator of the same site is never offered the settings. A second admin session exports
 * and erases an author (after a typed confirmation), rotates an endpoint's signing secret, resends
 * the failed messages since a time, and restores an older policy version through the what-if.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, grantRole } from '../../src/repositories/users';
import { createTestContext, type TestContext, waitFor } from '../helpers/context';
import { bearer, seedComments } from '../helpers/workspace';
import { BROWSER_TEST_TIMEOUT_MS, hasChromium, launchChromium, SKIP_REASON } from './harness';

let t: TestContext;
let browser: Browser;
let server: ReturnType<typeof serve>;
let receiver: Server;
let origin: string;
let hookUrl: string;
const received: string[] = [];

beforeAll(async () => {
  if (!hasChromium) return;
  // Workers run so the endpoint's test event is really delivered (to a loopback receiver).
  t = await createTestContext({
    workers: true,
    env: { WEBHOOKS_ALLOW_LOOPBACK: 'true', WEBHOOKS_DISPATCH_INTERVAL_MS: '100' },
  });
  server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver = createServer((req, res) => {
    received.push(String(req.headers['webhook-id']));
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/parley`;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (receiver ? receiver.close(r) : r(null)));
  await new Promise((r) => (server ? server.close(r) : r(null)));
  await t?.close();
});

async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${origin}/moderation`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#app:not([hidden])');
}

async function waitStatus(page: Page, text: RegExp) {
  await page
    .waitForFunction(
      (src) => new RegExp(src).test(document.querySelector('#status')?.textContent ?? ''),
      text.source,
      { timeout: 5000 },
    )
    .catch(async (err) => {
      throw new Error(`status never matched ${text}: "${await page.textContent('#status')}" (${err})`);
    });
}

/** The what-if table as the admin sees it: row label -> [now, proposed, change]. */
async function whatIfTable(page: Page) {
  return page.$$eval('#whatif table tbody tr', (rows) =>
    Object.fromEntries(
      rows.map((r) => [
        r.querySelector('th')?.textContent ?? '',
        [...r.querySelectorAll('td')].map((td) => td.textContent ?? ''),
      ]),
    ),
  );
}

/**
 * An admin of a new site with its own account, signed in on the settings view; the listeners record
 * page errors and any state change sent without the CSRF token.
 */
async function adminOnSettings(siteId: string, email: string) {
  const user = await createUser(t.rt.db, { email, password: 'admin password 1' });
  await grantRole(t.rt.db, user.id, siteId, 'admin');
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('dialog', (d) => void d.accept());
  // Every state change the page makes must carry the CSRF token (cookie-authenticated requests).
  const unprotected: string[] = [];
  page.on('request', (r) => {
    if (r.method() !== 'GET' && r.url().includes('/api/v1/admin/') && !r.headers()['x-csrf-token']) {
      unprotected.push(`${r.method()} ${r.url()}`);
    }
  });
  await signIn(page, email, 'admin password 1');
  await page.click('button[data-view=settings]');
  await page.waitForFunction(() => (document.querySelector('#origins') as HTMLTextAreaElement).value !== '');
  return { user, page, errors, unprotected };
}

// One scenario per test (each with its own site and admin): as one test they took 5 s alone, 8-19 s
// beside the full suite here, and over 30 s on a slower CI machine.
const SUITE = `moderation UI settings (${hasChromium ? 'chromium' : SKIP_REASON})`;
describe.skipIf(!hasChromium)(SUITE, { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  it('an admin changes origins and policy (after the what-if), flood control and the edit window', async () => {
    const siteId = await t.site(undefined, ['https://news.example']);
    // Recent decisions for the what-if to replay: held insults and published plain comments.
    await seedComments(t, siteId, 8);
    await seedComments(t, siteId, 6, {
      status: 'published',
      article: 'story-2',
      body: (i) => `Thanks for the clear report on the budget, part ${i}.`,
    });
    const api = bearer(t, await t.token(siteId, 'admin'));
    const site = () =>
      t.rt.db.selectFrom('sites').selectAll().where('id', '=', siteId).executeTakeFirstOrThrow();
    const {
      user: adminUser,
      page,
      errors,
      unprotected,
    } = await adminOnSettings(siteId, 'admin@example.test');

    // 1. Allowed origins.
    expect(await page.inputValue('#origins')).toBe('https://news.example');
    await page.fill('#origins', 'https://news.example\nhttps://www.news.example\n');
    await page.click('#site-settings button[type=submit]');
    await waitStatus(page, /Settings saved: 2 allowed origin/);
    expect((await site()).allowed_origins).toEqual(['https://news.example', 'https://www.news.example']);
    // A bad origin is refused with the field named, and nothing changes.
    await page.fill('#origins', 'https://news.example/path');
    await page.click('#site-settings button[type=submit]');
    await waitStatus(page, /allowedOrigins/);
    expect((await site()).allowed_origins).toEqual(['https://news.example', 'https://www.news.example']);

    // 2. A policy threshold, with the what-if replay before saving.
    const before = await site();
    const hold = page.locator('input[data-threshold="toxicity.hold"]');
    await hold.waitFor();
    expect(await page.isDisabled('#policy-save')).toBe(true);
    // An emptied threshold is refused in the page (it is not read as 0).
    await hold.fill('');
    await page.click('#policy-preview');
    await waitStatus(page, /toxicity hold threshold: give a number from 0 to 1/);
    expect(await page.isDisabled('#policy-save')).toBe(true);
    await hold.fill('0.97');
    expect(await page.isDisabled('#policy-save')).toBe(true);
    await page.click('#policy-preview');
    await page.waitForSelector('#whatif table');
    expect(await page.isDisabled('#policy-save')).toBe(false);
    // The page shows exactly what the what-if API answers for that policy.
    const current = (await (await api('GET', `/api/v1/admin/sites/${siteId}/policy`)).json()) as {
      policy: { thresholds: Record<string, { hold: number; reject: number }> };
    };
    const proposed = {
      ...current.policy,
      thresholds: {
        ...current.policy.thresholds,
        toxicity: { ...current.policy.thresholds.toxicity!, hold: 0.97 },
      },
    };
    const res = await api('POST', `/api/v1/admin/sites/${siteId}/policy/what-if`, {
      policy: proposed,
      days: 14,
      limit: 500,
    });
    expect(res.status).toBe(200);
    const expected = (await res.json()) as {
      total: number;
      current: { published: number; held: number; rejected: number };
      proposed: { published: number; held: number; rejected: number };
    };
    expect(expected.total).toBe(14);
    await page.locator('#policy').screenshot({ path: 'test-output/moderation-whatif.png' });
    const shown = await whatIfTable(page);
    expect(await page.textContent('#whatif')).toContain(`Replayed ${expected.total} comments`);
    for (const [label, key] of [
      ['Published', 'published'],
      ['Held', 'held'],
      ['Rejected', 'rejected'],
    ] as const) {
      expect(shown[label]?.slice(0, 2)).toEqual([
        String(expected.current[key]),
        String(expected.proposed[key]),
      ]);
    }
    // Editing after the preview withdraws the save; it comes back only for the previewed policy.
    await hold.fill('0.96');
    expect(await page.isDisabled('#policy-save')).toBe(true);
    await hold.fill('0.97');
    expect(await page.isDisabled('#policy-save')).toBe(false);
    await page.click('#policy-save');
    await waitStatus(page, new RegExp(`Policy saved as version ${before.policy_version + 1}`));
    const after = await site();
    expect(after.policy_version).toBe(before.policy_version + 1);
    const stored = after.policy as { thresholds: Record<string, { hold: number }> };
    expect(stored.thresholds.toxicity?.hold).toBe(0.97);
    const version = await t.rt.db
      .selectFrom('policy_versions')
      .selectAll()
      .where('site_id', '=', siteId)
      .where('version', '=', after.policy_version)
      .executeTakeFirstOrThrow();
    expect(version.created_by).toBe(`user:${adminUser.id}`);
    expect(await page.textContent('#policy-version')).toContain(
      `Version ${after.policy_version}, saved by you`,
    );

    // 2b. The site's own flood control: a half-filled row is refused in the page; a full one is
    // saved with the policy and refuses the next submission over it.
    await page.fill('input[data-flood="perArticle.points"]', '2');
    await page.click('#policy-preview');
    await waitStatus(page, /Flood control, Per article, everyone: give both numbers/);
    await page.fill('input[data-flood="perArticle.seconds"]', '60');
    // Flood control alone decides no comment, so it is saved without a what-if (fast, in a spike);
    // with anything else changed as well, the preview is required again.
    expect(await page.isDisabled('#policy-save')).toBe(false);
    expect(await page.textContent('#policy-hint')).toContain('Only flood control changes');
    await hold.fill('0.5');
    expect(await page.isDisabled('#policy-save')).toBe(true);
    await hold.fill('0.97');
    expect(await page.isDisabled('#policy-save')).toBe(false);
    await page.click('#policy-save');
    await waitStatus(page, new RegExp(`Policy saved as version ${after.policy_version + 1}`));
    const flooded = (await site()).policy as {
      floodControl: unknown;
      thresholds: Record<string, { hold: number }>;
    };
    expect(flooded.floodControl).toEqual({ perArticle: { points: 2, seconds: 60 } });
    expect(flooded.thresholds.toxicity?.hold).toBe(0.97);
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.submit(
        siteId,
        'flooded',
        { authorName: 'Reader', body: `Thought number ${i}.` },
        { origin: 'https://news.example' },
      );
      statuses.push(res.status);
    }
    expect(statuses).toEqual([202, 202, 429]);
    // The form shows the stored limit when the page is loaded again, and the server's (empty) elsewhere.
    await page.reload();
    await page.click('button[data-view=settings]');
    await page.waitForFunction(
      () =>
        (document.querySelector('input[data-flood="perArticle.points"]') as HTMLInputElement).value === '2',
    );
    expect(await page.inputValue('input[data-flood="perArticle.seconds"]')).toBe('60');
    expect(await page.inputValue('input[data-flood="perIp.points"]')).toBe('');

    // 2c. How long readers may edit their comments decides no comment either: saved without a
    // what-if, and the next submission's 202 carries the new window.
    expect(await page.inputValue('#edit-window')).toBe('600');
    await page.fill('#edit-window', '120');
    expect(await page.isDisabled('#policy-save')).toBe(false);
    expect(await page.textContent('#policy-hint')).toContain('Only the edit window changes');
    await page.click('#policy-save');
    await waitStatus(page, new RegExp(`Policy saved as version ${after.policy_version + 2}`));
    expect(((await site()).policy as { editWindowSeconds: number }).editWindowSeconds).toBe(120);
    const windowed = await t.submit(
      siteId,
      'edits',
      { authorName: 'Reader', body: 'A comment with a shorter window.' },
      { origin: 'https://news.example' },
    );
    const accepted = (await windowed.json()) as { id: string; editableUntil: string };
    const posted = await t.rt.db
      .selectFrom('comments')
      .select('created_at')
      .where('id', '=', accepted.id)
      .executeTakeFirstOrThrow();
    expect(Date.parse(accepted.editableUntil) - posted.created_at.getTime()).toBe(120_000);

    expect(unprotected).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('an admin creates and revokes an API token and adds a webhook endpoint, whose delivery log redelivers', async () => {
    const siteId = await t.site(undefined, ['https://news.example']);
    const { page, errors, unprotected } = await adminOnSettings(siteId, 'admin3@example.test');

    // 1. An API token: created and shown once, then revoked.
    await page.fill('#token-name', 'CMS sync');
    await page.selectOption('#token-role', 'moderator');
    await page.click('#token-add button[type=submit]');
    await waitStatus(page, /Token CMS sync created/);
    const secret = (await page.textContent('#token-created code')) ?? '';
    expect(secret).toMatch(/^prl_/);
    const tokenRow = await t.rt.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('site_id', '=', siteId)
      .where('name', '=', 'CMS sync')
      .executeTakeFirstOrThrow();
    expect(tokenRow).toMatchObject({ role: 'moderator', revoked_at: null });
    expect(tokenRow.token_hash).not.toContain(secret);
    expect((await bearer(t, secret)('GET', `/api/v1/moderation/sites/${siteId}/queues`)).status).toBe(200);
    await page.click('#token-created button');
    expect(await page.isHidden('#token-created')).toBe(true);
    await page.click(`#tokens tr[data-token="${tokenRow.id}"] button`);
    await waitStatus(page, /Token CMS sync revoked/);
    const revoked = await t.rt.db
      .selectFrom('api_tokens')
      .select('revoked_at')
      .where('id', '=', tokenRow.id)
      .executeTakeFirstOrThrow();
    expect(revoked.revoked_at).not.toBeNull();
    expect((await bearer(t, secret)('GET', `/api/v1/moderation/sites/${siteId}/queues`)).status).toBe(401);
    expect(await page.textContent(`#tokens tr[data-token="${tokenRow.id}"]`)).toContain('revoked');

    // 2. A webhook endpoint, its test delivery in the log, and a redelivery.
    await page.fill('#endpoint-url', hookUrl);
    await page.fill('#endpoint-description', 'Newsroom CMS');
    await page.check('#endpoint-events input[value="comment.approved"]');
    await page.click('#endpoint-add button[type=submit]');
    await waitStatus(page, /Endpoint added/);
    expect(await page.textContent('#endpoint-created code')).toMatch(/^whsec_/);
    const ep = await t.rt.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('site_id', '=', siteId)
      .executeTakeFirstOrThrow();
    expect(ep).toMatchObject({
      url: hookUrl,
      description: 'Newsroom CMS',
      event_types: ['comment.approved'],
      enabled: true,
    });
    const row = page.locator(`#endpoints tr[data-endpoint="${ep.id}"]`);
    await row.locator('button', { hasText: 'Send test' }).click();
    await waitStatus(page, /Test event queued/);
    const msg = await waitFor(
      () =>
        t.rt.db
          .selectFrom('webhook_messages')
          .selectAll()
          .where('endpoint_id', '=', ep.id)
          .where('status', '=', 'succeeded')
          .executeTakeFirst(),
      'the test event delivered',
      15_000,
    );
    expect(received).toContain(msg.id);
    await page.click('#deliveries button:text("Refresh")');
    await page.waitForFunction(
      (id) =>
        document.querySelector(`#deliveries tr[data-message="${id}"]`)?.textContent?.includes('succeeded'),
      msg.id,
    );
    await page.click(`#deliveries tr[data-message="${msg.id}"] button`);
    await waitStatus(page, /queued again/);
    await waitFor(
      async () =>
        (
          await t.rt.db
            .selectFrom('webhook_attempts')
            .select('trigger')
            .where('message_id', '=', msg.id)
            .execute()
        ).some((a) => a.trigger === 'manual'),
      'the redelivery attempted',
      15_000,
    );
    expect(received.filter((id) => id === msg.id).length).toBeGreaterThanOrEqual(2);

    await page.screenshot({ path: 'test-output/moderation-settings.png', fullPage: true });
    await page.setViewportSize({ width: 800, height: 900 });
    await page.screenshot({ path: 'test-output/moderation-settings-800.png', fullPage: true });
    expect(unprotected).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a moderator sees no settings, and the history names the token that decided', async () => {
    const siteId = await t.site(undefined, ['https://news.example']);
    await seedComments(t, siteId, 8);
    const api = bearer(t, await t.token(siteId, 'admin'));
    const modUser = await createUser(t.rt.db, { email: 'mod2@example.test', password: 'moderator password' });
    await grantRole(t.rt.db, modUser.id, siteId, 'moderator');

    // A moderator is not offered the settings, and the API refuses them. The history names who
    // decided (here an integration's API token).
    const [first] = await seedComments(t, siteId, 1, { article: 'story-4' }).then((r) => r.ids);
    expect(
      (await api('POST', `/api/v1/moderation/sites/${siteId}/comments/${first}/approve`, {})).status,
    ).toBe(200);
    const mod = await browser.newPage();
    const modErrors: string[] = [];
    mod.on('pageerror', (e) => modErrors.push(String(e)));
    await signIn(mod, 'mod2@example.test', 'moderator password');
    await mod.waitForSelector('#list li');
    expect(await mod.isHidden('button[data-view=settings]')).toBe(true);
    expect(await mod.isHidden('#settings-view')).toBe(true);
    const status = await mod.evaluate(
      async (id) => (await fetch(`/api/v1/admin/sites/${id}/settings`)).status,
      siteId,
    );
    expect(status).toBe(403);
    await mod.locator('body').press('h');
    await mod.waitForSelector('#history-rows tr td');
    expect(await mod.textContent('#history-rows')).toContain('token test admin');
    // ...and so does the decision list of the comment itself.
    await mod.click('button[data-view=queue]');
    await mod.click('nav button[data-queue=approved]');
    // Picked by id rather than trusted to be first: the list's order is not what is tested here.
    await mod.click(`#list li[data-id="${first}"] .pick`);
    await mod.waitForFunction(() =>
      document.querySelector('#detail .decisions')?.textContent?.includes('token test admin'),
    );
    expect(await mod.textContent('#detail .decisions')).toContain(
      'token test admin · approve (held → published)',
    );
    expect(modErrors).toEqual([]);
    await mod.close();
  });
  it('an admin exports and erases an author, rotates a webhook secret, resends failures and restores a policy version', async () => {
    const siteId = await t.site(undefined, ['https://news.example']);
    const victim = 'erase.me@example.test';
    const { ids: victimIds } = await seedComments(t, siteId, 3, {
      status: 'published',
      email: victim,
      authorName: 'Erin <b>Erase</b>',
    });
    const { ids: otherIds } = await seedComments(t, siteId, 2, { article: 'story-2' });
    const adminUser = await createUser(t.rt.db, {
      email: 'admin2@example.test',
      password: 'admin password 2',
    });
    await grantRole(t.rt.db, adminUser.id, siteId, 'admin');
    const api = bearer(t, await t.token(siteId, 'admin'));
    const policyPath = `/api/v1/admin/sites/${siteId}/policy`;
    // Two versions of the policy exist before the page opens: v1 (the start) and a v2 that raised a threshold.
    const v1 = (await (await api('GET', policyPath)).json()) as {
      version: number;
      policy: { thresholds: Record<string, { hold: number; reject: number }> };
    };
    const raised = {
      ...v1.policy,
      thresholds: { ...v1.policy.thresholds, toxicity: { ...v1.policy.thresholds.toxicity!, hold: 0.95 } },
    };
    const put = await api('PUT', policyPath, { policy: raised, expectedVersion: v1.version });
    expect(put.status).toBe(200);
    // An endpoint with one failed message from an hour ago and one from three days ago.
    const created = await api('POST', `/api/v1/admin/sites/${siteId}/webhooks/endpoints`, { url: hookUrl });
    expect(created.status).toBe(201);
    const { endpoint, secret: firstSecret } = (await created.json()) as {
      endpoint: { id: string };
      secret: string;
    };
    const failed = (id: string, hoursAgo: number) => ({
      id,
      site_id: siteId,
      endpoint_id: endpoint.id,
      event_type: 'comment.approved',
      // The dispatcher only claims messages of its own shard (this run's queue prefix).
      shard: t.rt.queues.prefix,
      body: JSON.stringify({ type: 'comment.approved', timestamp: new Date().toISOString(), data: {} }),
      status: 'failed' as const,
      attempts: 8,
      last_status_code: 500,
      created_at: new Date(Date.now() - hoursAgo * 3600_000),
    });
    await t.rt.db
      .insertInto('webhook_messages')
      .values([failed('msg_recent_failure', 1), failed('msg_old_failure', 72)])
      .execute();

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // Confirmations here are in the page, not dialogs: a dialog would be a regression, so refuse it.
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const unprotected: string[] = [];
    page.on('request', (r) => {
      if (r.method() !== 'GET' && r.url().includes('/api/v1/admin/') && !r.headers()['x-csrf-token']) {
        unprotected.push(`${r.method()} ${r.url()}`);
      }
    });
    await signIn(page, 'admin2@example.test', 'admin password 2');
    await page.click('button[data-view=settings]');
    await page.waitForSelector(`#endpoints tr[data-endpoint="${endpoint.id}"]`);

    // 1. Privacy: the export downloads as JSON with exactly this author's comments.
    await page.fill('#privacy-email', victim);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#privacy-export')]);
    await waitStatus(page, /Export downloaded: 3 comment/);
    const exported = JSON.parse(readFileSync((await download.path())!, 'utf8')) as {
      email: string;
      comments: { id: string; authorEmail: string; authorName: string }[];
    };
    expect(exported.email).toBe(victim);
    expect(exported.comments.map((c) => c.id).sort()).toEqual([...victimIds].sort());
    expect(exported.comments.every((c) => c.authorEmail === victim)).toBe(true);
    // Erase asks first, and nothing changes until the email is typed again and confirmed.
    await page.click('#privacy-erase');
    await page.waitForSelector('#erase-confirm:not([hidden]) button.confirm');
    expect(await page.textContent('#erase-confirm')).toContain('3 comment(s) found');
    expect(await page.textContent('#erase-confirm')).toContain('name, email, IP hash');
    expect(await page.isDisabled('#erase-confirm button.confirm')).toBe(true);
    await page.fill('#erase-again', 'someone.else@example.test');
    expect(await page.isDisabled('#erase-confirm button.confirm')).toBe(true);
    const untouched = await t.rt.db
      .selectFrom('comments')
      .select(['author_email', 'author_name'])
      .where('id', 'in', victimIds)
      .execute();
    expect(untouched.every((c) => c.author_email === victim && c.author_name === 'Erin <b>Erase</b>')).toBe(
      true,
    );
    await page.fill('#erase-again', victim);
    await page.click('#erase-confirm button.confirm');
    await waitStatus(page, /Erased: 3 comment\(s\) anonymised/);
    const erased = await t.rt.db
      .selectFrom('comments')
      .select([
        'author_name',
        'author_email',
        'email_hash',
        'ip_hash',
        'user_agent',
        'referrer',
        'status',
        'body',
      ])
      .where('id', 'in', victimIds)
      .execute();
    expect(erased).toHaveLength(3);
    for (const c of erased) {
      expect(c).toMatchObject({
        author_name: '[erased]',
        author_email: null,
        email_hash: null,
        ip_hash: null,
        user_agent: null,
        referrer: null,
        status: 'published',
      });
      expect(c.body).not.toBe('');
    }
    // Other authors are untouched.
    const others = await t.rt.db
      .selectFrom('comments')
      .select(['author_email'])
      .where('id', 'in', otherIds)
      .execute();
    expect(others.every((c) => c.author_email?.endsWith('@example.test'))).toBe(true);
    expect(await page.isHidden('#erase-confirm')).toBe(true);

    // 2. Webhooks: rotate with a one-hour overlap; the new secret is shown once.
    const row = page.locator(`#endpoints tr[data-endpoint="${endpoint.id}"]`);
    await row.locator('button', { hasText: 'Secret and recovery' }).click();
    await page.selectOption('#rotate-overlap', '3600');
    const rotatedAt = Date.now();
    await page.click('#rotate button[type=submit]');
    await waitStatus(page, /Secret rotated/);
    const newSecret = (await page.textContent('#endpoint-rotated code')) ?? '';
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(firstSecret);
    const secrets = await t.rt.db
      .selectFrom('webhook_secrets')
      .selectAll()
      .where('endpoint_id', '=', endpoint.id)
      .orderBy('id')
      .execute();
    expect(secrets).toHaveLength(2);
    expect(secrets[1]!.expires_at).toBeNull();
    expect(secrets[1]!.secret_enc).not.toContain(newSecret);
    const overlapEnds = secrets[0]!.expires_at!.getTime();
    expect(overlapEnds).toBeGreaterThan(rotatedAt + 3600_000 - 60_000);
    expect(overlapEnds).toBeLessThan(Date.now() + 3600_000 + 60_000);
    await page.click('#endpoint-rotated button');
    expect(await page.isHidden('#endpoint-rotated')).toBe(true);
    // Resend everything failed since a day ago: the hour-old failure goes again, the older one stays.
    // The field is in the browser's local time; build the value there.
    const dayAgo = await page.evaluate(() => {
      const d = new Date(Date.now() - 24 * 3600_000);
      const p = (n: number) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    });
    await page.fill('#recover-since', dayAgo);
    await page.click('#recover button[type=submit]');
    await waitStatus(page, /^1 failed message\(s\) since .* queued again/);
    const statuses = async () =>
      Object.fromEntries(
        (
          await t.rt.db
            .selectFrom('webhook_messages')
            .select(['id', 'status'])
            .where('endpoint_id', '=', endpoint.id)
            .execute()
        ).map((m) => [m.id, m.status]),
      );
    expect((await statuses()).msg_old_failure).toBe('failed');
    await waitFor(
      async () => (await statuses()).msg_recent_failure === 'succeeded',
      'the resent message delivered',
      15_000,
    );
    expect(received).toContain('msg_recent_failure');
    expect(received).not.toContain('msg_old_failure');
    // A time in the future is refused in the page, without a request.
    await page.fill('#recover-since', '2999-01-01T00:00');
    await page.click('#recover button[type=submit]');
    await waitStatus(page, /Give a time in the past/);

    // 3. The policy's versions: restore v1 through the what-if and save it as v3.
    await page.click('#policy-history summary');
    await page.waitForSelector(`#policy-versions tr[data-version="${v1.version}"] button`);
    expect(await page.textContent(`#policy-versions tr[data-version="${v1.version + 1}"]`)).toContain(
      'current',
    );
    const hold = page.locator('input[data-threshold="toxicity.hold"]');
    expect(await hold.inputValue()).toBe('0.95');
    await page.click(`#policy-versions tr[data-version="${v1.version}"] button`);
    await waitStatus(page, new RegExp(`Version ${v1.version} is in the form`));
    expect(await hold.inputValue()).toBe(String(v1.policy.thresholds.toxicity!.hold));
    expect(await page.isDisabled('#policy-save')).toBe(true);
    expect(await page.textContent('#policy-hint')).toContain(`Restoring version ${v1.version}`);
    await page.click('#policy-preview');
    await page.waitForSelector('#whatif table');
    expect(await page.isDisabled('#policy-save')).toBe(false);
    await page.click('#policy-save');
    await waitStatus(
      page,
      new RegExp(`Policy saved as version ${v1.version + 2} \\(restored from version ${v1.version}\\)`),
    );
    const restored = await t.rt.db
      .selectFrom('policy_versions')
      .selectAll()
      .where('site_id', '=', siteId)
      .orderBy('version', 'desc')
      .executeTakeFirstOrThrow();
    expect(restored.version).toBe(v1.version + 2);
    expect(restored.created_by).toBe(`user:${adminUser.id}`);
    const original = await t.rt.db
      .selectFrom('policy_versions')
      .select('policy')
      .where('site_id', '=', siteId)
      .where('version', '=', v1.version)
      .executeTakeFirstOrThrow();
    // The form writes every rule's switches out explicitly; otherwise the restored policy is v1's.
    type Stored = { rules: Record<string, { enabled?: boolean; shadow?: boolean }> };
    const { rules: restoredRules, ...restoredRest } = restored.policy as unknown as Stored;
    const { rules: originalRules, ...originalRest } = original.policy as unknown as Stored;
    expect(restoredRest).toEqual(originalRest);
    for (const [id, sw] of Object.entries(restoredRules)) {
      expect(sw, id).toEqual({
        enabled: originalRules[id]?.enabled !== false,
        shadow: originalRules[id]?.shadow === true,
      });
    }
    const siteRow = await t.rt.db
      .selectFrom('sites')
      .select(['policy_version'])
      .where('id', '=', siteId)
      .executeTakeFirstOrThrow();
    expect(siteRow.policy_version).toBe(v1.version + 2);
    await page.waitForSelector(`#policy-versions tr[data-version="${v1.version + 2}"].current-version`);

    await page.screenshot({ path: 'test-output/moderation-settings-privacy.png', fullPage: true });
    expect(dialogs).toEqual([]);
    expect(unprotected).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
