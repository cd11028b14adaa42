/**
 * Site settings in the moderation UI, in Debian's Chromium: an admin changes the allowed origins and
 * a policy threshold (seeing the what-if numbers before saving), creates and revokes an API token and
 * adds a webhook endpoint whose delivery log and redelivery work; the database is checked after each
 * step. A moderator of the same site is never offered the settings.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, grantRole } from '../../src/repositories/users';
import { createTestContext, type TestContext, waitFor } from '../helpers/context';
import { bearer, seedComments } from '../helpers/workspace';
import { CHROMIUM, hasChromium, SKIP_REASON } from './harness';

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
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
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

describe.skipIf(!hasChromium)(`moderation UI settings (${hasChromium ? 'chromium' : SKIP_REASON})`, () => {
  it('an admin changes origins and policy (after the what-if), tokens and webhooks; a moderator sees no settings', async () => {
    const siteId = await t.site(undefined, ['https://news.example']);
    // Recent decisions for the what-if to replay: held insults and published plain comments.
    await seedComments(t, siteId, 8);
    await seedComments(t, siteId, 6, {
      status: 'published',
      article: 'story-2',
      body: (i) => `Thanks for the clear report on the budget, part ${i}.`,
    });
    const adminUser = await createUser(t.rt.db, {
      email: 'admin@example.test',
      password: 'admin password 1',
    });
    await grantRole(t.rt.db, adminUser.id, siteId, 'admin');
    const modUser = await createUser(t.rt.db, { email: 'mod2@example.test', password: 'moderator password' });
    await grantRole(t.rt.db, modUser.id, siteId, 'moderator');
    const api = bearer(t, await t.token(siteId, 'admin'));
    const site = () =>
      t.rt.db.selectFrom('sites').selectAll().where('id', '=', siteId).executeTakeFirstOrThrow();

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

    await signIn(page, 'admin@example.test', 'admin password 1');
    await page.click('button[data-view=settings]');
    await page.waitForFunction(
      () => (document.querySelector('#origins') as HTMLTextAreaElement).value !== '',
    );

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

    // 3. An API token: created and shown once, then revoked.
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

    // 4. A webhook endpoint, its test delivery in the log, and a redelivery.
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

    // 5. A moderator of the same site is not offered the settings, and the API refuses them. The
    // history names who decided (here an integration's API token).
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
    await mod.waitForFunction(() =>
      document.querySelector('#detail .decisions')?.textContent?.includes('token test admin'),
    );
    expect(await mod.textContent('#detail .decisions')).toContain(
      'token test admin · approve (held → published)',
    );
    expect(modErrors).toEqual([]);
    await mod.close();
  });
});
