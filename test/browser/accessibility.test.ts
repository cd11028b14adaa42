/**
 * WCAG 2.1 A/AA audits (axe-core, plus its best practices; colour contrast included) of every page
 * state a reader or a moderator meets, in Debian's Chromium, light and dark. The demo article page
 * and the moderation page are Parley's and are audited whole; on a publisher's page only the
 * widget (and the count text it writes) is Parley's, so the audit is scoped to those.
 */
import { randomUUID } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser, grantRole } from '../../src/repositories/users';
import { DEMO_ARTICLE_ID, DEMO_SITE_ID } from '../../src/routes/demo';
import { TEST_ORIGIN, waitFor } from '../helpers/context';
import { as, seedComments, signedIn } from '../helpers/workspace';
import { type AuditOptions, audit } from './axe';
import {
  articlePage,
  BROWSER_TEST_TIMEOUT_MS,
  EMBED_POLICY,
  type HostServer,
  hasChromium,
  SKIP_REASON,
  type Stack,
  startStack,
} from './harness';

const POLICY = EMBED_POLICY;
const SCHEMES = ['light', 'dark'] as const;
type Scheme = (typeof SCHEMES)[number];
const WIDGET: AuditOptions = { include: ['parley-comments'] };

let s: Stack;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!hasChromium) return;
  // A webhook endpoint on loopback (nothing listens there) gives the settings page a delivery log
  // with failed attempts, without a DNS lookup this closed network would refuse.
  s = await startStack({ WEBHOOKS_ALLOW_LOOPBACK: 'true' });
}, 90_000);
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await s?.close();
});

let demoSite: Promise<unknown> | undefined;
/** The demo site, created on first use: the first test audits `/` before it exists. */
function ensureDemoSite() {
  demoSite ??= import('../../src/repositories/sites').then(({ createSite }) =>
    s.t.rt.db.transaction().execute((trx) =>
      createSite(trx, {
        id: DEMO_SITE_ID,
        name: 'Parley demo',
        allowedOrigins: [s.api, s.host.origin, TEST_ORIGIN],
        policy: POLICY,
      }),
    ),
  );
  return demoSite;
}

/** Fails with every violation spelled out: rule, impact, where, and what to change. */
async function expectAccessible(page: Page, state: string, opts?: AuditOptions): Promise<void> {
  const found = await audit(page, opts);
  if (found.length)
    throw new Error(`${state}: ${found.length} axe rule(s) violated\n\n${found.join('\n\n')}`);
}

async function newPage(scheme: Scheme = 'light', width = 1280): Promise<Page> {
  const context = await s.browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme });
  contexts.push(context);
  return context.newPage();
}

async function publishedStatus(siteId: string, id: string): Promise<boolean> {
  const res = await s.t.request('GET', `/api/v1/sites/${siteId}/comments/${id}`);
  return ((await res.json()) as { status: string }).status === 'published';
}

/** Posts as another reader through the API and waits for the workers to publish it. */
async function seed(siteId: string, article: string, authorName: string, body: string, parentId?: string) {
  const res = await s.t.submit(siteId, article, { authorName, body, ...(parentId ? { parentId } : {}) });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  await waitFor(() => publishedStatus(siteId, id), `seed ${id} published`);
  return id;
}

/** Holds every new comment (own pending comments stay pending) or lets the rules decide again. */
async function premoderate(siteId: string, on: boolean) {
  const row = await s.t.rt.db
    .selectFrom('sites')
    .select('policy')
    .where('id', '=', siteId)
    .executeTakeFirstOrThrow();
  const policy = { ...(row.policy as Record<string, unknown>), premoderate: on };
  await s.t.rt.db
    .updateTable('sites')
    .set({ policy: JSON.stringify(policy) })
    .where('id', '=', siteId)
    .execute();
  s.t.rt.sites.invalidate(siteId);
}

const widget = (page: Page) => page.locator('parley-comments');

/** Fills and sends the widget's form; the form-time rule wants a moment between showing and posting. */
async function post(page: Page, name: string, body: string) {
  await widget(page).getByLabel('Name').fill(name);
  await widget(page).getByLabel('Comment', { exact: true }).fill(body);
  await page.waitForTimeout(400);
  await widget(page).getByRole('button', { name: 'Post comment' }).click();
}

/** A publisher's article page with the embed tag, on one of the host servers. */
async function hostPage(
  siteId: string,
  article: string,
  o: { host?: HostServer; attrs?: Record<string, string>; head?: string; scheme?: Scheme } = {},
): Promise<Page> {
  const host = o.host ?? s.host;
  const path = `/news/${randomUUID()}`;
  host.pages.set(path, { html: articlePage(s.api, siteId, article, o) });
  const page = await newPage(o.scheme);
  await page.goto(`${host.origin}${path}`);
  await widget(page).locator('h2').waitFor();
  return page;
}

describe.skipIf(!hasChromium)(
  hasChromium ? 'accessibility: what readers see' : `accessibility: what readers see (${SKIP_REASON})`,
  { timeout: BROWSER_TEST_TIMEOUT_MS },
  () => {
    it('the demo page before a demo site exists (DEMO=false on an empty database)', async () => {
      if (demoSite) return; // run alone with -t after the site was made: nothing to see
      for (const scheme of SCHEMES) {
        const page = await newPage(scheme);
        await page.goto(`${s.api}/`);
        await page.getByText('No demo site exists.').waitFor();
        await expectAccessible(page, `demo page without a site, ${scheme}`);
      }
    });

    for (const scheme of SCHEMES) {
      it(`the demo page with an empty thread, ${scheme}`, async () => {
        await ensureDemoSite();
        const page = await newPage(scheme);
        await page.goto(`${s.api}/`);
        await widget(page).getByText('No comments yet.').waitFor();
        await expect.poll(() => page.locator('[data-parley-count]').textContent()).toBe('0 comments');
        await expectAccessible(page, `demo page, empty thread, ${scheme}`);
      });

      it(`the comment form showing validation errors, ${scheme}`, async () => {
        await ensureDemoSite();
        const page = await newPage(scheme);
        await page.goto(`${s.api}/`);
        await widget(page).getByLabel('Email').fill('not an address');
        await widget(page).getByRole('button', { name: 'Post comment' }).click();
        await widget(page).getByText('Enter your name.').waitFor();
        await widget(page).getByText('Please correct the marked fields.').waitFor();
        await expectAccessible(page, `demo page, form with errors, ${scheme}`);
      });
    }

    let seeded: Promise<void> | undefined;
    for (const scheme of SCHEMES) {
      it(`a thread with replies, the reader's own pending comment, a reply and a report under way, ${scheme}`, async () => {
        seeded ??= (async () => {
          await ensureDemoSite();
          const a = await seed(DEMO_SITE_ID, DEMO_ARTICLE_ID, 'Margaret', 'My grandfather kept that light.');
          const b = await seed(DEMO_SITE_ID, DEMO_ARTICLE_ID, 'Tom', 'The footpath matters more.', a);
          await seed(DEMO_SITE_ID, DEMO_ARTICLE_ID, 'Margaret', 'Both can happen, a year apart.', b);
          await seed(DEMO_SITE_ID, DEMO_ARTICLE_ID, 'Priya', 'Could the lamp be an LED one?');
          await premoderate(DEMO_SITE_ID, true);
        })();
        await seeded;
        const page = await newPage(scheme);
        await page.goto(`${s.api}/`);
        await widget(page).getByText('Could the lamp be an LED one?').waitFor();
        await post(page, `Reader ${scheme}`, 'Keep it lit, and put the footpath next year.');
        const mine = widget(page).locator('li.c', { hasText: 'Keep it lit' });
        await mine.locator('.badge').waitFor();
        await widget(page).getByText('Your comment is awaiting moderation.').waitFor();
        await expectAccessible(page, `demo page, thread with own pending comment, ${scheme}`);

        // Deleting one's own comment asks first; the question and its buttons are audited, then kept.
        await mine.getByRole('button', { name: 'Delete your comment' }).click();
        await mine.getByRole('group', { name: 'Delete your comment? This cannot be undone.' }).waitFor();
        await expectAccessible(page, `demo page, delete confirmation on own comment, ${scheme}`);
        await page.keyboard.press('Escape');

        // Editing it opens a labelled form in place, audited with its error showing, then closed.
        await mine.getByRole('button', { name: 'Edit your comment' }).click();
        await mine.getByRole('textbox', { name: 'Edit your comment' }).fill('');
        await mine.getByRole('button', { name: 'Save' }).click();
        await mine.getByText('Write a comment.').waitFor();
        await expectAccessible(page, `demo page, editing own comment, with an error, ${scheme}`);
        await page.keyboard.press('Escape');

        await widget(page).getByRole('button', { name: 'Reply to Priya' }).click();
        await widget(page).getByText('Replying to Priya').waitFor();
        await widget(page).getByRole('button', { name: 'Report comment by Tom' }).click();
        await widget(page).getByText('Why are you reporting this comment?').waitFor();
        await expectAccessible(page, `demo page, replying and reporting, ${scheme}`);

        await widget(page).getByRole('button', { name: 'Send report' }).click();
        await widget(page).getByText('Thank you. A moderator will review this comment.').waitFor();
        // A moderator rejects the reader's comment: the polite note takes its place.
        const id = (await mine.getAttribute('data-id'))!;
        await s.t.rt.db.updateTable('comments').set({ status: 'rejected' }).where('id', '=', id).execute();
        await widget(page).getByText('Your comment was not published. It may').waitFor({ timeout: 15_000 });
        await expectAccessible(page, `demo page, report sent and own comment rejected, ${scheme}`);
      });
    }

    it('the widget in each theme on publishers’ pages: dark and light forced, and following a dark page', async () => {
      const siteId = await s.t.site(POLICY, [s.host.origin, TEST_ORIGIN]);
      await seed(siteId, 'themes', 'Ada', 'The lamp is worth it.');
      s.host.pages.set('/dark.css', { type: 'text/css', html: 'body { background: #101010; color: #eee; }' });
      const dark = '<link rel="stylesheet" href="/dark.css">';
      for (const [what, o] of [
        ['data-theme="dark" on a light page', { attrs: { 'data-theme': 'dark' } }],
        ['data-theme="light" on a dark page', { attrs: { 'data-theme': 'light' }, head: dark }],
        ['auto, following a dark page', { head: dark }],
        ['auto, following the reader’s dark system setting', { scheme: 'dark' as const }],
      ] as const) {
        const page = await hostPage(siteId, 'themes', o);
        await widget(page).getByText('The lamp is worth it.').waitFor();
        await expectAccessible(page, `widget, ${what}`, WIDGET);
      }
    });

    it('a comment its author deleted, kept as a tombstone over another reader’s reply', async () => {
      const siteId = await s.t.site(POLICY, [s.host.origin, TEST_ORIGIN]);
      const res = await s.t.submit(siteId, 'tomb', { authorName: 'Ada', body: 'Taken back later.' });
      const { id, authorToken } = (await res.json()) as { id: string; authorToken: string };
      await waitFor(() => publishedStatus(siteId, id), `${id} published`);
      await seed(siteId, 'tomb', 'Brian', 'An answer that stays.', id);
      const withdrawn = await s.t.request(
        'POST',
        `/api/v1/sites/${siteId}/comments/${id}/withdraw`,
        { authorToken },
        { origin: TEST_ORIGIN },
      );
      expect(withdrawn.status).toBe(200);
      for (const scheme of SCHEMES) {
        const page = await hostPage(siteId, 'tomb', { scheme });
        await widget(page).getByText('This comment was deleted by its author.').waitFor();
        await widget(page).getByText('An answer that stays.').waitFor();
        await expectAccessible(page, `widget, tombstone with a reply, ${scheme}`, WIDGET);
      }
    });

    it('the audit sees inside the widget: a contrast failure planted in its shadow root is reported', async () => {
      const siteId = await s.t.site(POLICY, [s.host.origin]);
      const page = await hostPage(siteId, 'planted');
      await widget(page).getByText('No comments yet.').waitFor();
      await page.evaluate(() => {
        const pw = document.querySelector('parley-comments')!.shadowRoot!.querySelector<HTMLElement>('.pw')!;
        pw.style.setProperty('--mut', '#c8c8c8');
      });
      const found = (await audit(page, WIDGET)).join('\n');
      expect(found).toMatch(/^color-contrast \(serious\)/m);
      expect(found).toContain('at parley-comments >> .empty');
    });

    // Three tests, not one: each loads the widget in both schemes and runs axe on it, which took
    // 21 s of a 30 s timeout under the full suite's load when they were one.
    it('oldest first with "Load more comments"', async () => {
      const siteId = await s.t.site(POLICY, [s.host.origin, TEST_ORIGIN]);
      await seed(siteId, 'paged', 'Ada', 'First.');
      await seed(siteId, 'paged', 'Brian', 'Second.');
      for (const scheme of SCHEMES) {
        const page = await hostPage(siteId, 'paged', {
          attrs: { 'data-order': 'oldest', 'data-page-size': '1' },
          scheme,
        });
        await widget(page).getByRole('button', { name: 'Load more comments' }).waitFor();
        await expectAccessible(page, `widget, oldest first with load more, ${scheme}`, WIDGET);
      }
    });

    it('a closed article', async () => {
      const siteId = await s.t.site(POLICY, [s.host.origin, TEST_ORIGIN]);
      await seed(siteId, 'closed', 'Uma', 'Said before the thread was closed.');
      await s.t.rt.db
        .updateTable('articles')
        .set({ closed: true })
        .where('site_id', '=', siteId)
        .where('external_id', '=', 'closed')
        .execute();
      for (const scheme of SCHEMES) {
        const page = await hostPage(siteId, 'closed', { scheme });
        await widget(page).getByText('Comments are closed for this article.').waitFor();
        await expectAccessible(page, `widget, closed article, ${scheme}`, WIDGET);
      }
    });

    it('a thread that failed to load', async () => {
      const siteId = await s.t.site(POLICY, [s.host.origin, TEST_ORIGIN]);
      for (const scheme of SCHEMES) {
        const page = await newPage(scheme);
        await page.route('**/articles/*/comments?*', (route) => route.abort());
        const path = `/news/${randomUUID()}`;
        s.host.pages.set(path, { html: articlePage(s.api, siteId, 'unreachable') });
        await page.goto(`${s.host.origin}${path}`);
        await widget(page).getByText('Comments could not be loaded.').waitFor();
        await expectAccessible(page, `widget, thread failed to load, ${scheme}`, WIDGET);
      }
    });

    it('the error a reader gets on a page whose origin is not allowed', async () => {
      const siteId = await s.t.site(POLICY, [s.host.origin]);
      for (const scheme of SCHEMES) {
        const page = await hostPage(siteId, 'refused', { host: s.other, scheme });
        await post(page, 'Visitor', 'Posting from an unlisted page.');
        await widget(page)
          .getByText(/Comments cannot be posted from this page/)
          .waitFor();
        await expectAccessible(page, `widget, refused origin, ${scheme}`, WIDGET);
      }
    });

    it('the count text that embed.js and count.js write into a publisher’s page', async () => {
      const siteId = await s.t.site(POLICY, [s.host.origin, TEST_ORIGIN]);
      await seed(siteId, 'counted', 'Pia', 'Closer than the headline says.');
      s.host.pages.set('/list', {
        html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Latest</title></head>
        <body><main><h1>Latest</h1><ul>
        <li><a href="/one">Story one</a> <span data-parley-count data-article="counted">Comments</span></li>
        <li><a href="/two">Story two</a> <span data-parley-count="number" data-article="none"></span></li></ul>
        </main><script src="${s.api}/count.js" data-site="${siteId}" async></script></body></html>`,
      });
      const page = await newPage();
      await page.goto(`${s.host.origin}/list`);
      await expect.poll(() => page.locator('[data-parley-count]').first().textContent()).toBe('1 comment');
      await expectAccessible(page, 'count.js output', { include: ['[data-parley-count]'] });
    });
  },
);

describe.skipIf(!hasChromium)(
  hasChromium ? 'accessibility: what moderators see' : `accessibility: what moderators see (${SKIP_REASON})`,
  { timeout: BROWSER_TEST_TIMEOUT_MS },
  () => {
    let siteId: string;
    let claimedElsewhere: string;
    const password = 'a long password';

    async function signIn(page: Page, email: string) {
      await page.goto(`${s.api}/moderation`);
      await page.fill('#email', email);
      await page.fill('#password', password);
      await page.click('#signin button[type=submit]');
      await page.waitForSelector('#app:not([hidden])');
    }

    /** Audits the page in both colour schemes (the page follows the system setting). */
    async function bothSchemes(page: Page, state: string) {
      for (const scheme of SCHEMES) {
        await page.emulateMedia({ colorScheme: scheme });
        await expectAccessible(page, `${state}, ${scheme}`);
      }
    }

    beforeAll(async () => {
      if (!hasChromium) return;
      siteId = await s.t.site(POLICY);
      const earlier = await seedComments(s.t, siteId, 1, {
        status: 'published',
        email: 'author0@example.test',
        authorName: 'Author 0',
        body: () => 'The council voted on Tuesday.',
      });
      const held = await seedComments(s.t, siteId, 3, {
        parentId: (i) => (i === 0 ? earlier.ids[0] : undefined),
      });
      // A colleague has the second held comment open: the list marks it, and its pane warns.
      const colleague = as(s.t, await signedIn(s.t, { [siteId]: 'moderator' }));
      const claim = await colleague(
        'POST',
        `/api/v1/moderation/sites/${siteId}/comments/${held.ids[1]}/claim`,
      );
      expect(claim.status).toBe(200);
      claimedElsewhere = held.ids[1]!;
      // Three readers report the published comment: it enters the reported queue.
      for (const [i, reason] of (['spam', 'abuse', 'other'] as const).entries()) {
        const res = await s.t.request(
          'POST',
          `/api/v1/sites/${siteId}/comments/${earlier.ids[0]}/reports`,
          {
            reason,
            note: i === 2 ? 'Not about the article' : undefined,
            readerToken: `reader-token-${i}-abcdef`,
          },
          { origin: TEST_ORIGIN },
        );
        expect(res.status).toBe(202);
      }
      for (const [email, role] of [
        ['mod-a11y@example.test', 'moderator'],
        ['admin-a11y@example.test', 'admin'],
      ] as const) {
        const u = await createUser(s.t.rt.db, {
          email,
          password,
          name: role === 'admin' ? 'Ada Admin' : undefined,
        });
        await grantRole(s.t.rt.db, u.id, siteId, role);
      }
      await createUser(s.t.rt.db, { email: 'nosite-a11y@example.test', password });
    });

    it('sign-in, empty and with an error', async () => {
      const page = await newPage();
      await page.goto(`${s.api}/moderation`);
      await page.waitForSelector('#signin-view:not([hidden])');
      await bothSchemes(page, 'sign-in');
      await page.fill('#email', 'mod-a11y@example.test');
      await page.fill('#password', 'not the password');
      await page.click('#signin button[type=submit]');
      await page.waitForFunction(() => document.querySelector('#signin-error')?.textContent);
      await bothSchemes(page, 'sign-in with an error');
    });

    it('an account with no site yet', async () => {
      const page = await newPage();
      await signIn(page, 'nosite-a11y@example.test');
      await page.getByText('Your account has no site yet.').waitFor();
      await bothSchemes(page, 'signed in without a site');
    });

    it('the held queue with "Why it is here", the keys help, the reported queue, an empty queue and the history', async () => {
      const page = await newPage();
      await signIn(page, 'mod-a11y@example.test');
      await page.waitForSelector('#detail .reasons li');
      await page.check('#list li:nth-child(2) input');
      await bothSchemes(page, 'held queue, "Why it is here" shown');
      await page.click(`#list li[data-id="${claimedElsewhere}"] .pick`);
      await page.getByText('Another moderator has this one open.').waitFor();
      await bothSchemes(page, 'held queue, a comment another moderator has open');
      await page.click('#help-toggle');
      await page.waitForSelector('#help:not([hidden])');
      await bothSchemes(page, 'held queue with the keys help open');

      await page.click('nav button[data-queue=reported]');
      await page.waitForFunction(() =>
        document.querySelector('#detail')?.textContent?.includes('Reader reports'),
      );
      await bothSchemes(page, 'reported queue with reader reports');

      await page.click('nav button[data-queue=pending]');
      await page.waitForFunction(() => document.querySelector('#detail .empty'));
      await bothSchemes(page, 'empty queue');

      await page.click('button[data-view=history]');
      await page.waitForSelector('#history-rows td');
      await bothSchemes(page, 'history, none yet');
      await page.click('button[data-view=queue]');
      await page.click('nav button[data-queue=held]');
      await page.waitForSelector('#detail .reasons li');
      await page.locator('body').press('a');
      await page.waitForFunction(() => /Approved/.test(document.querySelector('#status')?.textContent ?? ''));
      await page.click('button[data-view=history]');
      await page.waitForFunction(() => document.querySelectorAll('#history-rows tr td').length > 1);
      await bothSchemes(page, 'history with a decision');
    });

    it('the settings page, empty and with a what-if, a new token, an endpoint’s tools and an erase pending', async () => {
      const page = await newPage();
      page.on('dialog', (d) => void d.accept());
      await signIn(page, 'admin-a11y@example.test');
      await page.click('button[data-view=settings]');
      // Inside the closed "Earlier versions": present, not visible.
      await page.waitForSelector('#policy-versions tr', { state: 'attached' });
      await page.waitForSelector('#endpoints td');
      await bothSchemes(page, 'settings, no endpoints or tokens yet');

      await page.click('#policy-preview');
      await page.waitForSelector('#whatif table');
      await page.click('#policy-history summary');
      await page.fill('#token-name', 'CMS');
      await page.click('#token-add button[type=submit]');
      await page.waitForSelector('#token-created:not([hidden]) code');
      await page.fill('#endpoint-url', 'http://127.0.0.1:9/hooks/parley');
      await page.fill('#endpoint-description', 'The CMS');
      await page.click('#endpoint-add button[type=submit]');
      await page.waitForSelector('#endpoints tr[data-endpoint]');
      await page.click('#endpoints button:text("Send test")');
      await page.waitForSelector('#deliveries tr[data-message]');
      await page.click('#endpoints button:text("Secret and recovery")');
      await page.waitForSelector('#endpoint-tools form');
      await page.fill('#privacy-email', 'author1@example.test');
      await page.click('#privacy-erase');
      await page.waitForSelector('#erase-confirm:not([hidden]) input');
      await page.fill('#erase-again', 'author1@example.test');
      await page.waitForSelector('#erase-confirm button.confirm:enabled');
      await bothSchemes(page, 'settings with what-if, secrets shown, endpoint tools and erase confirmation');
    });
  },
);
