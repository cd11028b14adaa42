/**
 * The moderation UI in Debian's Chromium: sign in, clear ten held comments by keyboard, bulk-reject
 * a selection, undo one, ban an author, checking the database and the outbox after each step; and
 * leases: two moderators never share a comment, and a lease that lands late is given back.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorToken } from '../../src/lib/crypto';
import { defaultRules } from '../../src/moderation/rules';
import { createUser, grantRole } from '../../src/repositories/users';
import { createTestContext, moderateProcessor, TEST_ORIGIN, type TestContext } from '../helpers/context';
import { as, outboxFor, seedComments, signedIn, statusOf } from '../helpers/workspace';
import { BROWSER_TEST_TIMEOUT_MS, hasChromium, launchChromium, SKIP_REASON } from './harness';

let t: TestContext;
let browser: Browser;
let server: ReturnType<typeof serve>;
let origin: string;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await createTestContext();
  server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(null)));
  await t?.close();
});

async function waitStatus(page: Page, text: RegExp) {
  await page.waitForFunction(
    (src) => new RegExp(src).test(document.querySelector('#status')?.textContent ?? ''),
    text.source,
    { timeout: 5000 },
  );
}

const SUITE = `moderation UI (${hasChromium ? 'chromium' : SKIP_REASON})`;
describe.skipIf(!hasChromium)(SUITE, { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  it('signs in, clears ten by keyboard, bulk-rejects, undoes, bans', async () => {
    const siteId = await t.site();
    // Author 0 has one published comment, and their held comment replies to it.
    const earlier = await seedComments(t, siteId, 1, {
      status: 'published',
      email: 'author0@example.test',
      authorName: 'Author 0',
      body: () => 'The council voted on Tuesday.',
    });
    const held = await seedComments(t, siteId, 10, {
      body: (i) => `You are an idiot <script>alert(${i})</script> number ${i}`,
      parentId: (i) => (i === 0 ? earlier.ids[0] : undefined),
    });
    const u = await createUser(t.rt.db, { email: 'mod@example.test', password: 'a long password' });
    await grantRole(t.rt.db, u.id, siteId, 'moderator');
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('dialog', (d) => void d.dismiss());
    const res = await page.goto(`${origin}/moderation`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");

    await page.fill('#email', 'mod@example.test');
    await page.fill('#password', 'a long password');
    await page.click('button[type=submit]');
    await page.waitForSelector('#list li');
    expect(await page.textContent('nav button[data-queue=held]')).toBe('held (10)');
    // User text is text: the <script> in a body is shown, never run, and the span is highlighted.
    expect(await page.textContent('#detail .body')).toContain('<script>alert(0)</script>');
    expect(await page.textContent('#detail mark')).toBe('idiot');
    // The detail pane: the article as a real link, nothing absent printed as "null".
    expect(await page.getAttribute('#detail h2 a', 'href')).toBe('https://news.example/story-1');
    expect(await page.textContent('#detail h2 a')).toBe('A story');
    expect(await page.textContent('#detail')).not.toMatch(/null|undefined/);
    expect(await page.textContent('#detail .reasons')).toContain(
      'classifier toxicity 0.80 Reads as an insult',
    );
    expect(await page.textContent('#detail .decisions')).toContain('Parley · hold (pending → held)');
    expect(await page.textContent('#detail .parent')).toContain('In reply to Author 0 (published)');
    expect(await page.textContent('#detail .parent')).toContain('The council voted on Tuesday.');
    expect(await page.textContent('#detail .history')).toMatch(/^1 published · 0 held/);
    expect(await page.textContent('#detail .recent')).toContain('The council voted on Tuesday.');
    // For review, at 1280 and 800 px wide (test-output/ is gitignored).
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: 'test-output/moderation-queue.png', fullPage: true });
    await page.setViewportSize({ width: 800, height: 900 });
    await page.screenshot({ path: 'test-output/moderation-queue-800.png', fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: 'test-output/moderation-queue-800-dark.png', fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize({ width: 1280, height: 800 });

    // Ten by keyboard: approve the first five, reject (spam) the next five.
    for (let i = 0; i < 10; i++) {
      await page.selectOption('#reason', 'spam');
      await page.locator('body').press(i < 5 ? 'a' : 'r');
      await waitStatus(page, i < 5 ? /Approved/ : /Rejected/);
      await page.waitForFunction((n) => document.querySelectorAll('#list li').length === n, 9 - i);
    }
    for (const [i, id] of held.ids.entries()) {
      expect(await statusOf(t, id)).toBe(i < 5 ? 'published' : 'rejected');
      const topics = (await outboxFor(t, id)).map((o) => o.topic);
      expect(topics).toEqual(i < 5 ? ['comment.approved', 'comment.published'] : ['comment.rejected']);
    }

    // Undo the last one (a rejection): back to held.
    await page.locator('body').press('u');
    await waitStatus(page, /Undone/);
    expect(await statusOf(t, held.ids[9]!)).toBe('held');
    expect((await outboxFor(t, held.ids[9]!)).map((o) => o.topic)).toEqual([
      'comment.rejected',
      'comment.undone',
    ]);

    // Bulk-reject a selection of three new ones.
    const more = await seedComments(t, siteId, 3, { article: 'story-2' });
    await page.click('nav button[data-queue=held]');
    await page.waitForFunction(() => document.querySelectorAll('#list li').length === 4);
    for (const id of more.ids) await page.check(`#list li[data-id="${id}"] input`);
    await page.selectOption('#reason', 'off_topic');
    await page.click('#bulk-reject');
    await waitStatus(page, /3 of 3 rejected/);
    for (const id of more.ids) {
      expect(await statusOf(t, id)).toBe('rejected');
      expect((await outboxFor(t, id))[0]).toMatchObject({
        topic: 'comment.rejected',
        payload: { reasonCode: 'off_topic', actor: 'moderator' },
      });
    }

    // Ban the author of the remaining one (by email), rejecting what they have waiting.
    await page.waitForFunction(() => document.querySelectorAll('#list li').length === 1);
    await page.locator('body').press('b');
    await waitStatus(page, /Banned/);
    const bans = await t.rt.db.selectFrom('bans').selectAll().where('site_id', '=', siteId).execute();
    expect(bans).toHaveLength(1);
    expect(bans[0]).toMatchObject({ kind: 'email', expires_at: null });
    expect(await statusOf(t, held.ids[9]!)).toBe('rejected');
    expect((await outboxFor(t, held.ids[9]!)).map((o) => o.topic)).toContain('author.banned');

    // An article URL that is not http(s) is shown as text, never as a link.
    await seedComments(t, siteId, 1, {
      article: 'story-3',
      articleTitle: 'Bad link',
      articleUrl: 'javascript:alert(1)',
    });
    await page.click('nav button[data-queue=held]');
    await page.waitForFunction(() => document.querySelector('#detail h2')?.textContent === 'Bad link');
    expect(await page.locator('#detail h2 a').count()).toBe(0);

    // Help toggles with ?.
    await page.locator('body').press('?');
    expect(await page.isVisible('#help')).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("takes an author's own deletion in its stride: the open item's decision says so, and the history names the author", async () => {
    const siteId = await t.site();
    const { ids } = await seedComments(t, siteId, 1, { authorName: 'Regretful reader' });
    const id = ids[0]!;
    const u = await createUser(t.rt.db, { email: 'mod-withdrawn@example.test', password: 'a long password' });
    await grantRole(t.rt.db, u.id, siteId, 'moderator');
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${origin}/moderation`);
    await page.fill('#email', 'mod-withdrawn@example.test');
    await page.fill('#password', 'a long password');
    await page.click('button[type=submit]');
    await page.waitForSelector(`#list li[data-id="${id}"]`);

    // The reader deletes it while the moderator has it open (and claimed).
    const res = await t.request(
      'POST',
      `/api/v1/sites/${siteId}/comments/${id}/withdraw`,
      { authorToken: authorToken(t.config.PARLEY_SECRET, id) },
      { origin: TEST_ORIGIN },
    );
    expect(res.status).toBe(200);
    await page.locator('body').press('a');
    await waitStatus(page, /Someone already decided this comment \(it is now deleted\)/);
    await page.waitForFunction(() => document.querySelectorAll('#list li').length === 0);
    expect(await statusOf(t, id)).toBe('deleted');

    await page.locator('body').press('h');
    await page.waitForSelector('#history-rows tr td');
    const row = page.locator('#history-rows tr').first();
    expect(await row.locator('td').nth(1).textContent()).toBe('withdraw (held → deleted)');
    expect(await row.locator('td').nth(3).textContent()).toBe('author');
    expect(await row.locator('td').nth(4).textContent()).toContain('Regretful reader');
    // Nothing to undo: the last decision is not a moderator's.
    await page.locator('body').press('h');
    await page.locator('body').press('u');
    await waitStatus(page, /Nothing to undo/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('does not approve a text its author rewrote while it was open: says so, then shows the new text, marked edited, with the old one', async () => {
    const siteId = await t.site({ premoderate: true });
    const { ids } = await seedComments(t, siteId, 1, {
      authorName: 'Second thoughts',
      body: () => 'The first text, which the moderator reads.',
      // Just posted: inside the default ten-minute edit window.
    });
    const id = ids[0]!;
    await t.rt.db.updateTable('comments').set({ created_at: new Date() }).where('id', '=', id).execute();
    const u = await createUser(t.rt.db, { email: 'mod-edited@example.test', password: 'a long password' });
    await grantRole(t.rt.db, u.id, siteId, 'moderator');
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${origin}/moderation`);
    await page.fill('#email', 'mod-edited@example.test');
    await page.fill('#password', 'a long password');
    await page.click('button[type=submit]');
    await page.waitForSelector(`#list li[data-id="${id}"]`);
    expect(await page.locator('#detail').textContent()).toContain(
      'The first text, which the moderator reads.',
    );
    expect(await page.locator('#detail .tag.edited').count()).toBe(0);

    // Its author rewrites it while the page is open, and the pipeline holds the new text again.
    const text = 'A rewritten text with <img src=x onerror="window.pwned=1"> in it.';
    const res = await t.request(
      'POST',
      `/api/v1/sites/${siteId}/comments/${id}/edit`,
      { authorToken: authorToken(t.config.PARLEY_SECRET, id), body: text },
      { origin: TEST_ORIGIN },
    );
    expect(res.status).toBe(200);
    const moderate = moderateProcessor(t, defaultRules);
    expect(await moderate({ data: { commentId: id } })).toEqual({ state: 'decided', outcome: 'hold' });

    // Approving what is on screen (the old text) is refused, and the item comes back as it is now.
    await page.locator('body').press('a');
    await waitStatus(page, /Its author edited this comment since you opened it/);
    expect(await statusOf(t, id)).toBe('held');
    await page.waitForFunction(() => document.querySelector('#detail .tag.edited') !== null);
    const detail = page.locator('#detail');
    expect(await detail.locator('.body').textContent()).toBe(text);
    const earlier = detail.locator('details.revisions');
    expect(await earlier.locator('summary').textContent()).toBe('Edited by its author: 1 earlier version');
    expect(await earlier.locator('.text').textContent()).toBe('The first text, which the moderator reads.');
    // Shown as text, never as markup.
    expect(await detail.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();

    // Having seen the new text, the same key approves it.
    await page.locator('body').press('a');
    await waitStatus(page, /Approved: Second thoughts/);
    expect(await statusOf(t, id)).toBe('published');
    expect(errors).toEqual([]);
    await page.close();
  });

  it("says when an author's history is unknown (no email) or empty, instead of printing zeros", async () => {
    const siteId = await t.site();
    await seedComments(t, siteId, 1, { email: null, authorName: 'Anonymous reader' });
    await seedComments(t, siteId, 1, { email: 'first-timer@example.test', authorName: 'First timer' });
    const u = await createUser(t.rt.db, { email: 'mod-history@example.test', password: 'a long password' });
    await grantRole(t.rt.db, u.id, siteId, 'moderator');
    const page = await browser.newPage();
    await page.goto(`${origin}/moderation`);
    await page.fill('#email', 'mod-history@example.test');
    await page.fill('#password', 'a long password');
    await page.click('button[type=submit]');
    await page.waitForSelector('#list li');
    // Held is oldest first: the anonymous reader's comment is open.
    expect(await page.textContent('#detail')).toContain('Anonymous reader');
    expect(await page.textContent('#detail .history')).toMatch(/^Unknown: no email was given/);
    await page.locator('#list li').nth(1).click();
    await page.waitForFunction(() => document.querySelector('#detail')?.textContent?.includes('First timer'));
    expect(await page.textContent('#detail .history')).toBe('None: this is their first.');
    await page.close();
  });

  it('never shows two moderators the same comment: each page skips what the other has open', async () => {
    const siteId = await t.site();
    const held = await seedComments(t, siteId, 6);
    const pages: Page[] = [];
    for (const who of ['mod-a', 'mod-b']) {
      const u = await createUser(t.rt.db, { email: `${who}@example.test`, password: 'a long password' });
      await grantRole(t.rt.db, u.id, siteId, 'moderator');
      // Separate contexts: separate sessions, as two people on two machines.
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${origin}/moderation`);
      await page.fill('#email', `${who}@example.test`);
      await page.fill('#password', 'a long password');
      pages.push(page);
    }
    const [a, b] = pages as [Page, Page];
    // Both sign in at the same moment, so both lists show the same first item, unclaimed.
    await Promise.all(pages.map((p) => p.click('button[type=submit]')));
    await Promise.all(pages.map((p) => p.waitForSelector('#list li')));

    const current = (p: Page) => p.getAttribute('#list li.current', 'data-id');
    const claimedBy = async (id: string | null) =>
      (
        await t.rt.db
          .selectFrom('comments')
          .select(['claimed_by'])
          .where('id', '=', id!)
          .executeTakeFirstOrThrow()
      ).claimed_by;
    const distinctAndClaimed = async () => {
      await expect
        .poll(
          async () => {
            const [ia, ib] = [await current(a), await current(b)];
            if (!ia || !ib || ia === ib) return 'same';
            const [ca, cb] = [await claimedBy(ia), await claimedBy(ib)];
            return ca && cb && ca !== cb ? 'distinct' : 'unclaimed';
          },
          { timeout: 5000 },
        )
        .toBe('distinct');
    };
    await distinctAndClaimed();

    // A decision moves a page on, but never onto the other moderator's comment.
    for (let round = 0; round < 2; round++) {
      const page = round % 2 ? b : a;
      const other = round % 2 ? a : b;
      const before = await current(page);
      await page.keyboard.press('a');
      await waitStatus(page, /^Approved/);
      await page.waitForFunction(
        (id) => document.querySelector('#list li.current')?.getAttribute('data-id') !== id,
        before,
      );
      expect(await current(page)).not.toBe(await current(other));
      await distinctAndClaimed();
      // The list marks the other moderator's comment.
      const otherId = await current(other);
      expect(await page.textContent(`#list li[data-id="${otherId}"]`)).toContain('open elsewhere');
    }
    // Moving on by hand gives the previous comment back at once.
    const left = await current(b);
    const free = await b.$$eval(
      '#list li',
      (lis, skip) => lis.map((li) => li.getAttribute('data-id')).filter((id) => id && !skip.includes(id)),
      [left, await current(a)],
    );
    expect(free.length).toBeGreaterThan(0);
    await b.click(`#list li[data-id="${free[0]}"] .pick`);
    await expect.poll(() => claimedBy(left), { timeout: 5000 }).toBeNull();
    expect(held.ids).toContain(left);
    for (const p of pages) await p.context().close();
  });

  it('gives back a lease that arrives after the moderator has moved on (j before the claim answered)', async () => {
    const siteId = await t.site();
    const held = await seedComments(t, siteId, 3);
    const first = held.ids[0]!;
    const u = await createUser(t.rt.db, { email: 'mod-fast@example.test', password: 'a long password' });
    await grantRole(t.rt.db, u.id, siteId, 'moderator');
    const page = await (await browser.newContext()).newPage();
    // The first item's claim is held in the browser until its release (sent on "j") has been
    // answered: the lease then lands on the server after the release, the race of a fast j j j.
    let claimSent!: () => void;
    const claimHeld = new Promise<void>((r) => (claimSent = r));
    let letClaimGo!: () => void;
    const claimGate = new Promise<void>((r) => (letClaimGo = r));
    let delayed = false;
    await page.route(`**/comments/${first}/claim`, async (route) => {
      if (route.request().method() === 'POST' && !delayed) {
        delayed = true;
        claimSent();
        await claimGate;
      }
      await route.continue();
    });
    const isClaimOf = (method: string) => (r: { url(): string; request(): { method(): string } }) =>
      r.url().endsWith(`/comments/${first}/claim`) && r.request().method() === method;

    await page.goto(`${origin}/moderation`);
    await page.fill('#email', 'mod-fast@example.test');
    await page.fill('#password', 'a long password');
    await page.click('button[type=submit]');
    await page.waitForSelector('#list li');
    await claimHeld;
    expect(await page.getAttribute('#list li.current', 'data-id')).toBe(first);

    const released = page.waitForResponse(isClaimOf('DELETE'));
    await page.locator('body').press('j');
    await released;
    expect(await page.getAttribute('#list li.current', 'data-id')).toBe(held.ids[1]);
    const leased = page.waitForResponse(isClaimOf('POST'));
    letClaimGo();
    expect((await leased).status()).toBe(200);

    // The late lease is given back at once, not left to run out in two minutes.
    const claimedBy = async () =>
      (
        await t.rt.db
          .selectFrom('comments')
          .select(['claimed_by'])
          .where('id', '=', first)
          .executeTakeFirstOrThrow()
      ).claimed_by;
    await expect.poll(claimedBy, { timeout: 3000 }).toBeNull();
    // So a colleague can open it straight away.
    const colleague = as(t, await signedIn(t, { [siteId]: 'moderator' }));
    const res = await colleague('POST', `/api/v1/moderation/sites/${siteId}/comments/${first}/claim`);
    expect(res.status).toBe(200);
    await page.context().close();
  });

  it('puts the reason that decided first and highlights only its words', async () => {
    const siteId = await t.site();
    await seedComments(t, siteId, 1, {
      authorName: 'Fast poster',
      body: () => 'The lighthouse should stay open all winter.',
      held: {
        reasonCode: 'ip_velocity',
        reasons: [
          {
            rule: 'classifier',
            category: 'toxicity',
            code: 'toxicity',
            score: 0.22,
            message: 'Below the hold threshold',
            spans: [{ start: 4, end: 14 }],
          },
          {
            rule: 'velocity',
            category: 'spam',
            code: 'ip_velocity',
            score: 0.7,
            message: '12 comments from this address in 10 minutes',
            spans: [],
          },
        ],
      },
    });
    const u = await createUser(t.rt.db, { email: 'mod-why@example.test', password: 'a long password' });
    await grantRole(t.rt.db, u.id, siteId, 'moderator');
    const page = await browser.newPage();
    await page.goto(`${origin}/moderation`);
    await page.fill('#email', 'mod-why@example.test');
    await page.fill('#password', 'a long password');
    await page.click('button[type=submit]');
    await page.waitForSelector('#detail .reasons li');
    const items = await page.$$eval('#detail .reasons li', (lis) => lis.map((li) => li.textContent ?? ''));
    expect(items[0]).toMatch(/^decided velocity ip_velocity/);
    expect(items[1]).toMatch(/^classifier toxicity 0\.22/);
    // "lighthouse" scored 0.22 for toxicity, below the threshold: it is not what held the comment.
    expect(await page.$$eval('#detail mark', (m) => m.length)).toBe(0);
    await page.close();
  });
});
