/**
 * The embed in a real browser, on a publisher's page served from another origin than the API.
 * Skips (with the reason printed) when /usr/bin/chromium is not installed.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/context';
import {
  articlePage,
  BROWSER_TEST_TIMEOUT_MS,
  EMBED_POLICY,
  embedSuite,
  hasChromium,
  type OpenOptions,
  openArticle,
  postFromPage,
  SKIP_REASON,
  strictCsp,
} from './harness';

const POLICY = EMBED_POLICY;

const { s, contexts, newSite } = embedSuite();

async function statusOf(siteId: string, id: string): Promise<string> {
  const res = await s.t.request('GET', `/api/v1/sites/${siteId}/comments/${id}`);
  return ((await res.json()) as { status: string }).status;
}

/** Posts through the API (as another reader) and waits until the workers publish it. */
async function seed(siteId: string, article: string, authorName: string, body: string, parentId?: string) {
  const res = await s.t.submit(siteId, article, { authorName, body, ...(parentId ? { parentId } : {}) });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  try {
    await waitFor(async () => (await statusOf(siteId, id)) === 'published', `seed ${id} published`);
  } catch (err) {
    // Say why the rules did not publish it, so a changed rule is easy to spot.
    const why = await s.t.rt.db
      .selectFrom('moderation_decisions')
      .select(['action', 'reasons'])
      .where('comment_id', '=', id)
      .execute();
    throw new Error(`${(err as Error).message}: ${JSON.stringify(why)}`);
  }
  return id;
}

const open = (siteId: string, article: string, o: OpenOptions = {}) =>
  openArticle(s, contexts, siteId, article, o);

/** The element focused inside the widget's shadow root, described for assertions. */
const focused = (page: Page) =>
  page.evaluate(() => {
    const host = document.activeElement as HTMLElement | null;
    const el = (host?.shadowRoot?.activeElement ?? host) as HTMLElement | null;
    return el
      ? {
          tag: el.tagName.toLowerCase(),
          name: el.getAttribute('name'),
          text: el.textContent?.slice(0, 60),
          id: el.dataset.id,
        }
      : null;
  });

describe.skipIf(!hasChromium)(
  hasChromium ? 'the embed in Chromium' : `the embed in Chromium (${SKIP_REASON})`,
  { timeout: BROWSER_TEST_TIMEOUT_MS },
  () => {
    it('renders the published thread with replies nested and loads more', async () => {
      const siteId = await newSite();
      const a = await seed(siteId, 'thread', 'Ada', 'First: the lamp is worth it.');
      await seed(siteId, 'thread', 'Brian', 'Second: the footpath matters more.');
      await seed(siteId, 'thread', 'Chloe', 'Third: why not both, over two years?');
      await seed(siteId, 'thread', 'Dev', 'A reply to Ada about the lamp.', a);
      const page = await open(siteId, 'thread', { attrs: { 'data-order': 'oldest', 'data-page-size': '2' } });

      const root = page.locator(`parley-comments li.c[data-id="${a}"]`);
      await expect.poll(() => root.locator('> .body').textContent()).toBe('First: the lamp is worth it.');
      await expect
        .poll(() => root.locator('> ol li.c .body').textContent())
        .toBe('A reply to Ada about the lamp.');
      expect(await root.locator('> .head .name').textContent()).toBe('Ada');
      expect(await root.locator('> .head time').first().textContent()).toBe('just now');
      expect(await page.locator('parley-comments h2').textContent()).toBe('Comments (4)');
      // One accessible name per landmark: the region takes its heading's, the list says what it holds.
      expect(await page.getByRole('region', { name: 'Comments (4)' }).count()).toBe(1);
      expect(await page.getByRole('list', { name: 'Published comments' }).count()).toBe(1);
      expect(await page.getByText('Third: why not both').count()).toBe(0);

      await page.getByRole('button', { name: 'Load more comments' }).click();
      await page.getByText('Third: why not both, over two years?').waitFor();
      expect(await page.getByRole('button', { name: 'Load more comments' }).isHidden()).toBe(true);
      expect((page as Page & { errors: string[] }).errors).toEqual([]);
    });

    it('shows new comments without a reload, and an unchanged thread costs a 304', async () => {
      const siteId = await newSite();
      await seed(siteId, 'live', 'Rosa', 'The first comment on this live thread.');
      const page = await open(siteId, 'live', { attrs: { 'data-poll': '1' } });
      const statuses: number[] = [];
      page.on('response', (r) => {
        if (r.url().includes('/articles/live/comments?')) statuses.push(r.status());
      });
      await expect.poll(() => statuses.filter((x) => x === 304).length, { timeout: 8000 }).toBeGreaterThan(0);
      await seed(siteId, 'live', 'Sam', 'A second comment arriving while Rosa reads.');
      await page.getByText('A second comment arriving while Rosa reads.').waitFor({ timeout: 8000 });
      // Newest first: the new comment is on top.
      expect(await page.locator('parley-comments li.c .body').first().textContent()).toBe(
        'A second comment arriving while Rosa reads.',
      );
      expect(await page.locator('parley-comments h2').textContent()).toBe('Comments (2)');
    });

    it('shows a new post as awaiting moderation, then publishes it in place', async () => {
      const siteId = await newSite();
      // A publisher's byline count, with count.js in the site-wide template as well as embed.js.
      const page = await open(siteId, 'post', {
        before:
          '<p>By A. Reporter · <span id="byline" data-parley-count data-article="post">Comments</span></p>',
        after: `<script src="${s.api}/count.js" data-site="${siteId}" async></script>`,
      });
      const countRequests: string[] = [];
      page.on('request', (r) => {
        if (r.url().includes('/counts?')) countRequests.push(r.url());
      });
      await page.evaluate(() => {
        const w = window as unknown as { __published: unknown[] };
        w.__published = [];
        document.addEventListener('parley:published', (e) => w.__published.push((e as CustomEvent).detail));
      });
      await expect.poll(() => page.locator('#byline').textContent()).toBe('0 comments');
      await page.getByLabel('Name').fill('Erin');
      await page.getByLabel('Comment', { exact: true }).fill('The keepers deserve a new lamp, honestly.');
      await page.waitForTimeout(400);
      await page.getByRole('button', { name: 'Post comment' }).click();

      const mine = page.locator('parley-comments li.c', { hasText: 'The keepers deserve a new lamp' });
      await mine.locator('.badge', { hasText: 'Awaiting moderation' }).waitFor();
      expect(await page.locator('parley-comments [role=status]').first().textContent()).toContain(
        'awaiting moderation',
      );
      expect(await page.getByLabel('Comment', { exact: true }).inputValue()).toBe('');

      // The workers publish benign text; the widget notices and drops the badge.
      await mine.locator('.badge').waitFor({ state: 'detached', timeout: 15_000 });
      await mine.getByRole('button', { name: 'Reply to Erin' }).waitFor();
      // The count in the heading follows within seconds, not at the next poll.
      await expect
        .poll(() => page.locator('parley-comments h2').textContent(), { timeout: 5000 })
        .toBe('Comments (1)');
      const id = await mine.getAttribute('data-id');
      // So does the byline's, on the widget's parley:published event (both scripts poll only every
      // 20 s), with one request: the tag is polled by whichever script saw it first, not by both.
      await expect.poll(() => page.locator('#byline').textContent(), { timeout: 3000 }).toBe('1 comment');
      expect(
        await page.evaluate(() => (window as unknown as { __published: unknown[] }).__published),
      ).toEqual([{ site: siteId, article: 'post', id }]);
      expect(countRequests).toHaveLength(1);
      expect(await statusOf(siteId, id!)).toBe('published');
      // The article was created from the page's own URL and title.
      const art = await s.t.rt.db
        .selectFrom('articles')
        .select(['url', 'title'])
        .where('site_id', '=', siteId)
        .where('external_id', '=', 'post')
        .executeTakeFirstOrThrow();
      expect(art.title).toBe('Host article post');
      expect(art.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/news\//);
    });

    it('keeps "awaiting moderation" only in the author’s browser, across reloads, and says politely when it was not published', async () => {
      const siteId = await newSite({ ...POLICY, premoderate: true });
      const page = await open(siteId, 'held');
      await page.getByLabel('Name').fill('Farah');
      await page.getByLabel('Comment', { exact: true }).fill('Held for a moderator to read first.');
      await page.waitForTimeout(400);
      await page.getByRole('button', { name: 'Post comment' }).click();
      const mine = page.locator('parley-comments li.c', { hasText: 'Held for a moderator' });
      await mine.locator('.badge').waitFor();
      const id = (await mine.getAttribute('data-id'))!;

      await page.reload();
      await page
        .locator('parley-comments li.c', { hasText: 'Held for a moderator' })
        .locator('.badge')
        .waitFor();

      // Another article of the site, in the same browser, does not show it either.
      const elsewhere = await open(siteId, 'not-held', { context: page.context() });
      expect(await elsewhere.locator('parley-comments li.c').count()).toBe(0);

      const stranger = await open(siteId, 'held');
      await stranger.waitForTimeout(500);
      expect(await stranger.getByText('Held for a moderator').count()).toBe(0);

      // A moderator rejects it: the author gets a polite note instead of the comment.
      await s.t.rt.db.updateTable('comments').set({ status: 'rejected' }).where('id', '=', id).execute();
      await page.getByText('Your comment was not published.').first().waitFor({ timeout: 15_000 });
      expect(await page.getByText('Held for a moderator').count()).toBe(0);
      expect(
        await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('parley:pending'))),
      ).toEqual([]);
    });

    it('nests a reply under the comment it answers', async () => {
      const siteId = await newSite();
      const parent = await seed(siteId, 'reply', 'Gus', 'Who pays for the lamp?');
      const page = await open(siteId, 'reply');
      await page.getByRole('button', { name: 'Reply to Gus' }).click();
      await page.getByText('Replying to Gus').waitFor();
      expect((await focused(page))?.name).toBe('body');
      await page.screenshot({ path: 'test-output/embed-replying.png' });
      // Escape leaves reply mode and hands focus back to the Reply button; Reply again returns.
      await page.keyboard.press('Escape');
      expect(await focused(page)).toMatchObject({ tag: 'button', text: 'Reply' });
      expect(await page.getByText('Replying to Gus').count()).toBe(0);
      await page.keyboard.press('Enter');
      await page.getByText('Replying to Gus').waitFor();
      await page.getByLabel('Name').fill('Hana');
      await page.getByLabel('Comment', { exact: true }).fill('The harbour trust offered to pay half.');
      await page.waitForTimeout(400);
      await page.getByRole('button', { name: 'Post comment' }).click();

      const reply = page.locator(`parley-comments li.c[data-id="${parent}"] > ol > li.c`, {
        hasText: 'The harbour trust offered',
      });
      await reply.locator('.badge').waitFor();
      await reply.locator('.badge').waitFor({ state: 'detached', timeout: 15_000 });
      const id = (await reply.getAttribute('data-id'))!;
      const row = await s.t.rt.db
        .selectFrom('comments')
        .select('parent_id')
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(row.parent_id).toBe(parent);
      // The form went back to its place at the top.
      expect(await page.getByText('Replying to Gus').count()).toBe(0);
    });

    it('shows validation errors next to the field they concern and keeps what was typed', async () => {
      const siteId = await newSite();
      const page = await open(siteId, 'invalid');
      await page.getByRole('button', { name: 'Post comment' }).click();
      const name = page.getByLabel('Name');
      await expect.poll(() => name.getAttribute('aria-invalid')).toBe('true');
      expect((await focused(page))?.name).toBe('name');
      const errFor = async (label: string, exact = false) => {
        const ids = (await page.getByLabel(label, { exact }).getAttribute('aria-describedby'))!.split(' ');
        return page.locator(`parley-comments [id="${ids[0]}"]`).textContent();
      };
      expect(await errFor('Name')).toBe('Enter your name.');
      expect(await errFor('Comment', true)).toBe('Write a comment.');

      // The browser accepts this address; Parley's server does not, and says so next to the field.
      await name.fill('Ivo');
      await page.getByLabel('Email').fill('ivo@localhost');
      await page.getByLabel('Comment', { exact: true }).fill('My email is a local one.');
      await page.getByRole('button', { name: 'Post comment' }).click();
      await expect.poll(() => page.getByLabel('Email').getAttribute('aria-invalid')).toBe('true');
      expect(await errFor('Email')).toBe('Enter a valid email address');
      expect(await name.getAttribute('aria-invalid')).toBeNull();
      expect(await page.getByLabel('Comment', { exact: true }).inputValue()).toBe('My email is a local one.');

      // The limit is the server's: one character over it is refused here, exactly at it is sent.
      const max = s.t.config.COMMENT_MAX_CHARS;
      await page.getByLabel('Email').fill('');
      await page.getByLabel('Comment', { exact: true }).fill('y'.repeat(max + 1));
      await page.getByRole('button', { name: 'Post comment' }).click();
      await expect.poll(() => errFor('Comment', true)).toBe(`At most ${max} characters.`);
      await page.getByLabel('Comment', { exact: true }).fill('y'.repeat(max));
      await page.getByRole('button', { name: 'Post comment' }).click();
      await page.locator('parley-comments .badge').waitFor();
      expect(await errFor('Comment', true)).toBe('');
    });

    it('renders a corpus of XSS payloads in names and bodies as inert text', async () => {
      const siteId = await newSite();
      const payloads = [
        '<script>window.__pwned=1;alert(1)</script>',
        '<img src=x onerror="window.__pwned=2;alert(2)">',
        '"><svg onload="window.__pwned=3">',
        '<iframe srcdoc="<script>parent.__pwned=4</script>"></iframe>',
        '<a href="javascript:window.__pwned=5">click</a>',
        "'--></style></textarea><script>window.__pwned=6</script>",
        '<style>*{display:none!important}</style>',
        '{{constructor.constructor("window.__pwned=7")()}}',
        '<details open ontoggle="window.__pwned=8">',
        '&lt;b&gt;entity&lt;/b&gt; &amp; <b>bold</b>',
      ];
      const ids: string[] = [];
      for (const [i, p] of payloads.entries()) {
        const res = await s.t.submit(siteId, 'xss', { authorName: p.slice(0, 80), body: `${p} #${i}` });
        ids.push(((await res.json()) as { id: string }).id);
      }
      // Whatever the rules thought of them, show them all: this test is about rendering.
      await waitFor(
        async () =>
          (
            await s.t.rt.db
              .selectFrom('comments')
              .select('id')
              .where('id', 'in', ids)
              .where('status', '!=', 'pending')
              .execute()
          ).length === ids.length,
        'xss comments decided',
      );
      await s.t.rt.db.updateTable('comments').set({ status: 'published' }).where('id', 'in', ids).execute();

      const dialogs: string[] = [];
      const page = await open(siteId, 'xss', { attrs: { 'data-page-size': '50' } });
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        d.dismiss().catch(() => {});
      });
      // One more through the form, so the author's own (pending) rendering is covered too.
      await page.getByLabel('Name').fill('<img src=y onerror="window.__pwned=9">');
      await page.getByLabel('Comment', { exact: true }).fill('<script>window.__pwned=10</script> mine');
      await page.waitForTimeout(400);
      await page.getByRole('button', { name: 'Post comment' }).click();
      await page.getByText('<script>window.__pwned=10</script> mine').waitFor();

      for (const [i, p] of payloads.entries()) {
        const li = page.locator(`parley-comments li.c[data-id="${ids[i]}"]`);
        expect(await li.locator('.body').textContent()).toBe(`${p} #${i}`);
        expect(await li.locator('.name').textContent()).toBe(p.slice(0, 80));
      }
      // Replying names the comment's author above the form: as text too.
      await page
        .locator(`parley-comments li.c[data-id="${ids[1]}"] > .actions button`, { hasText: 'Reply' })
        .click();
      await page.getByText(`Replying to ${payloads[1]}`).waitFor();
      await page.waitForTimeout(500);
      const injected = await page.evaluate(() => {
        const root = document.querySelector('parley-comments')!.shadowRoot!;
        return root.querySelectorAll('img, script, svg, iframe, a, style, details, b').length;
      });
      expect(injected).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(dialogs).toEqual([]);
    });

    it('refuses a post from a page whose origin is not on the site’s list, and keeps the text', async () => {
      const siteId = await newSite();
      const page = await open(siteId, 'refused', { host: s.other });
      await page.getByLabel('Name').fill('Jo');
      await page.getByLabel('Comment', { exact: true }).fill('Posted from a page the site does not know.');
      await page.getByRole('button', { name: 'Post comment' }).click();
      await page.getByText('Comments cannot be posted from this page').waitFor();
      expect(await page.getByText(s.other.origin).count()).toBe(1);
      expect(await page.getByLabel('Comment', { exact: true }).inputValue()).toBe(
        'Posted from a page the site does not know.',
      );
      const rows = await s.t.rt.db
        .selectFrom('comments')
        .select('id')
        .where('site_id', '=', siteId)
        .execute();
      expect(rows).toEqual([]);
    });

    it('keeps the text through a network failure and retries with the same Idempotency-Key', async () => {
      const siteId = await newSite();
      const page = await open(siteId, 'offline');
      const keys: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'POST' && r.url().includes('/comments'))
          keys.push(r.headers()['idempotency-key'] ?? '');
      });
      await page.route(`${s.api}/**`, (r) => r.abort('internetdisconnected'));
      await page.getByLabel('Name').fill('Kai');
      await page.getByLabel('Comment', { exact: true }).fill('Written on a train with patchy signal.');
      await page.waitForTimeout(400);
      await page.getByRole('button', { name: 'Post comment' }).click();
      await page.getByText('We could not reach the comment server').waitFor();
      expect(await page.getByLabel('Comment', { exact: true }).inputValue()).toBe(
        'Written on a train with patchy signal.',
      );
      await page.unroute(`${s.api}/**`);
      await page.getByRole('button', { name: 'Post comment' }).click();
      await page.locator('parley-comments .badge').first().waitFor();
      expect(keys.length).toBe(2);
      expect(keys[0]).toMatch(/^[0-9a-f]{32}$/);
      expect(keys[1]).toBe(keys[0]);
    });

    it('tells a reader who posts too quickly how long to wait, and keeps the text', async () => {
      const siteId = await newSite({ ...POLICY, floodControl: { perArticle: { points: 1, seconds: 60 } } });
      const page = await open(siteId, 'quick');
      await postFromPage(page, 'Nia', 'The first of two quick thoughts.');
      await page.getByLabel('Comment', { exact: true }).fill('And the second, straight after.');
      await page.getByRole('button', { name: 'Post comment' }).click();
      // The wait comes from the 429's Retry-After, which the page may read only if CORS exposes it.
      await expect
        .poll(() => page.locator('parley-comments form [role=status]').textContent())
        .toMatch(/^You are commenting too quickly\. Please wait [1-9]\d* seconds and try again\.$/);
      expect(await page.getByLabel('Comment', { exact: true }).inputValue()).toBe(
        'And the second, straight after.',
      );
    });

    it('says how long ago a comment was written, with the exact time in its datetime and title', async () => {
      const siteId = await newSite();
      const id = await seed(siteId, 'ago', 'Olga', 'Written this morning.');
      const at = new Date(Date.now() - 3 * 3_600_000 - 60_000);
      await s.t.rt.db.updateTable('comments').set({ created_at: at }).where('id', '=', id).execute();
      const page = await open(siteId, 'ago');
      const time = page.locator(`parley-comments li.c[data-id="${id}"] > .head time`);
      expect(await time.textContent()).toBe('3 hours ago');
      expect(await time.getAttribute('datetime')).toBe(at.toISOString());
      expect(await time.getAttribute('title')).toBeTruthy();
    });

    it('posts with the keyboard alone, and moves focus to the new comment', async () => {
      const siteId = await newSite();
      const page = await open(siteId, 'keyboard', { before: '<p><a href="#top" id="skip">Top</a></p>' });
      await page.focus('#skip');
      for (let i = 0; i < 10 && (await focused(page))?.name !== 'name'; i++) await page.keyboard.press('Tab');
      expect((await focused(page))?.name).toBe('name');
      await page.keyboard.type('Lena');
      await page.keyboard.press('Tab');
      expect((await focused(page))?.name).toBe('email');
      await page.keyboard.press('Tab');
      expect((await focused(page))?.name).toBe('body');
      await page.keyboard.type('Typed without touching the mouse.');
      await page.keyboard.press('Tab');
      // The honeypot is skipped: the next stop is the submit button.
      expect(await focused(page)).toMatchObject({ tag: 'button', text: 'Post comment' });
      await page.waitForTimeout(300);
      await page.keyboard.press('Enter');
      await page.locator('parley-comments .badge').waitFor();
      const f = await focused(page);
      expect(f?.tag).toBe('li');
      expect(f?.text).toContain('Lena');
      expect(await page.locator('parley-comments input[name=website]').inputValue()).toBe('');
      // Off-screen is not hidden: without aria-hidden a screen reader would offer the honeypot.
      expect(await page.getByRole('textbox', { name: 'Website' }).count()).toBe(0);
    });

    it('sends a reader report with the chosen reason and note, and handles 202 and 409 (intercepted)', async () => {
      const siteId = await newSite();
      const id = await seed(siteId, 'report', 'Max', 'Buy cheap lamps at my shop!!!');
      const page = await open(siteId, 'report');
      // The request is checked exactly and answered the way the reports contract says; the next
      // test files a report with the real endpoint.
      const sent: Array<{ method: string; body: unknown; type?: string }> = [];
      let answer = 202;
      await page.route(`${s.api}/api/v1/sites/${siteId}/comments/*/reports`, async (route) => {
        const r = route.request();
        if (r.method() === 'OPTIONS') {
          return route.fulfill({
            status: 204,
            headers: {
              'access-control-allow-origin': s.host.origin,
              'access-control-allow-methods': 'POST',
              'access-control-allow-headers': 'content-type',
            },
          });
        }
        sent.push({ method: r.method(), body: r.postDataJSON(), type: r.headers()['content-type'] });
        return route.fulfill({
          status: answer,
          contentType: answer === 202 ? 'application/json' : 'application/problem+json',
          headers: { 'access-control-allow-origin': s.host.origin },
          body: JSON.stringify(
            answer === 202 ? { status: 'received' } : { code: 'conflict', title: 'x', status: 409 },
          ),
        });
      });
      await page.getByRole('button', { name: 'Report comment by Max' }).click();
      await page.getByLabel('Abusive or hateful').check();
      await page.getByLabel('Note').fill('Advertising, not discussion');
      await page.screenshot({ path: 'test-output/embed-report.png' });
      await page.getByRole('button', { name: 'Send report' }).click();
      await page.getByText('Thank you. A moderator will review this comment.').waitFor();
      expect(sent).toEqual([
        {
          method: 'POST',
          body: {
            reason: 'abuse',
            note: 'Advertising, not discussion',
            readerToken: expect.stringMatching(/^[0-9a-f]{32}$/),
          },
          type: 'application/json',
        },
      ]);

      answer = 409;
      await page.reload();
      await page.getByRole('button', { name: 'Report comment by Max' }).click();
      await page.getByRole('button', { name: 'Send report' }).click();
      await page.getByText('You have already reported this comment.').waitFor();
      // The default reason is the first; no empty note; the same browser sends the same reader token.
      expect(sent[1]?.body).toEqual({
        reason: 'spam',
        readerToken: (sent[0]!.body as { readerToken: string }).readerToken,
      });
      expect(await page.locator(`parley-comments li.c[data-id="${id}"] .body`).textContent()).toBe(
        'Buy cheap lamps at my shop!!!',
      );
    });

    it('files a real reader report, and a second from the same reader is refused politely', async () => {
      const siteId = await newSite();
      const id = await seed(siteId, 'report-real', 'Nell', 'Visit my lamp shop for the best deals today.');
      const page = await open(siteId, 'report-real');
      await page.getByRole('button', { name: 'Report comment by Nell' }).click();
      await page.getByLabel('Spam or advertising').check();
      await page.getByRole('button', { name: 'Send report' }).click();
      await page.getByText('Thank you. A moderator will review this comment.').waitFor();
      const rows = await s.t.rt.db
        .selectFrom('reports')
        .select(['reason', 'note'])
        .where('comment_id', '=', id)
        .execute();
      expect(rows).toEqual([{ reason: 'spam', note: null }]);

      await page.reload();
      await page.getByRole('button', { name: 'Report comment by Nell' }).click();
      await page.getByLabel('Off topic').check();
      await page.getByRole('button', { name: 'Send report' }).click();
      await page.getByText('You have already reported this comment.').waitFor();
      expect(
        await s.t.rt.db.selectFrom('reports').select('id').where('comment_id', '=', id).execute(),
      ).toHaveLength(1);
    });

    it('renders into a named container, and shows a closed article without a form', async () => {
      const siteId = await newSite();
      await seed(siteId, 'closed', 'Uma', 'Said before the thread was closed.');
      await s.t.rt.db
        .updateTable('articles')
        .set({ closed: true })
        .where('site_id', '=', siteId)
        .where('external_id', '=', 'closed')
        .execute();
      const page = await open(siteId, 'closed', {
        attrs: { 'data-container': '#discussion' },
        after: '<p>More article text.</p><div id="discussion">Loading comments…</div>',
      });
      expect(await page.locator('#discussion > parley-comments').count()).toBe(1);
      expect(await page.getByText('Loading comments…').count()).toBe(0);
      await page.getByText('Said before the thread was closed.').waitFor();
      await page.getByText('Comments are closed for this article.').waitFor();
      expect(await page.locator('parley-comments form').count()).toBe(0);
      expect(await page.getByRole('button', { name: 'Reply to Uma' }).isHidden()).toBe(true);
    });

    it('works under a strict CSP, and hostile host styles cannot reach inside', async () => {
      const siteId = await newSite();
      await seed(siteId, 'csp', 'Nia', 'Styled by Parley, not by the page.');
      s.host.pages.set('/hostile.css', {
        type: 'text/css',
        html: `* { font-family: "Comic Sans MS", cursive !important; color: red !important; }
        button, input, textarea, li, p, ol, form, h2 { display: none !important; }
        .c, .body, .pw { background: lime !important; font-size: 40px !important; }`,
      });
      const page = await open(siteId, 'csp', {
        csp: strictCsp(s.api),
        head: '<link rel="stylesheet" href="/hostile.css">',
      });
      await page.getByText('Styled by Parley, not by the page.').waitFor();
      const style = await page.evaluate(() => {
        const root = document.querySelector('parley-comments')!.shadowRoot!;
        const btn = getComputedStyle(root.querySelector('button[type=submit]')!);
        const body = getComputedStyle(root.querySelector('.body')!);
        return {
          display: btn.display,
          bg: btn.backgroundColor,
          font: body.fontFamily,
          size: body.fontSize,
          color: body.color,
        };
      });
      expect(style.display).not.toBe('none');
      expect(style.bg).toBe('rgb(11, 87, 208)');
      expect(style.font).not.toContain('Comic');
      expect(style.size).toBe('16px');
      expect(style.color).not.toBe('rgb(255, 0, 0)');
      // The host page's own elements did get the hostile styles (the stylesheet was applied).
      expect(await page.evaluate(() => getComputedStyle(document.querySelector('h1')!).display)).toBe(
        'block',
      );
      expect(await page.evaluate(() => getComputedStyle(document.body).color)).toBe('rgb(255, 0, 0)');
      expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);

      // Posting works under the same policy.
      await page.getByLabel('Name').fill('Omar');
      await page.getByLabel('Comment', { exact: true }).fill('Strict pages can still take comments.');
      await page.waitForTimeout(400);
      await page.getByRole('button', { name: 'Post comment' }).click();
      await page.locator('parley-comments .badge').waitFor();
      expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
    });

    it('fills comment-count tags, from embed.js and from count.js', async () => {
      const siteId = await newSite();
      await seed(siteId, 'counted', 'Pia', 'The lighthouse vote was closer than the headline says.');
      await seed(siteId, 'counted', 'Quin', 'Good to see the council listen to the fishing crews.');
      const page = await open(siteId, 'counted', {
        before: '<span id="c1" data-parley-count data-article="counted">…</span>',
        after: '<span id="c2" data-parley-count="number" data-article="never-commented">…</span>',
      });
      await expect.poll(() => page.locator('#c1').textContent()).toBe('2 comments');
      await expect.poll(() => page.locator('#c2').textContent()).toBe('0');

      s.host.pages.set('/list', {
        html: `<!doctype html><meta charset="utf-8"><title>List</title><ul>
        <li>Story one <span id="l1" data-parley-count data-article="counted"></span></li>
        <li>Story two <span id="l2" data-parley-count data-article="nothing-here"></span></li></ul>
        <script src="${s.api}/count.js" data-site="${siteId}" async></script>`,
        csp: strictCsp(s.api),
      });
      const list = await page.context().newPage();
      await list.goto(`${s.host.origin}/list`);
      await expect.poll(() => list.locator('#l1').textContent()).toBe('2 comments');
      await expect.poll(() => list.locator('#l2').textContent()).toBe('0 comments');
    });

    it('keeps count tags current without a reload, one conditional request per poll, none while hidden', async () => {
      const siteId = await newSite();
      await seed(siteId, 'live-count', 'Uma', 'The ferry timetable change is welcome.');
      s.host.pages.set('/live-list', {
        html: `<!doctype html><meta charset="utf-8"><title>List</title><ul>
        <li>Ferry story <span id="f" data-parley-count data-article="live-count"></span></li>
        <li>Quiet story <span id="q" data-parley-count="number" data-article="quiet"></span></li></ul>
        <script src="${s.api}/count.js" data-site="${siteId}" data-poll="1" async></script>`,
        csp: strictCsp(s.api),
      });
      const context = await s.browser.newContext();
      contexts.push(context);
      const list = await context.newPage();
      const requests: string[] = [];
      const statuses: number[] = [];
      list.on('request', (r) => {
        if (r.url().includes('/counts?')) requests.push(r.url());
      });
      list.on('response', (r) => {
        if (r.url().includes('/counts?')) statuses.push(r.status());
      });
      await list.goto(`${s.host.origin}/live-list`);
      await expect.poll(() => list.locator('#f').textContent()).toBe('1 comment');
      expect(await list.locator('#q').textContent()).toBe('0');
      // An unchanged count is a 304 (If-None-Match), not a fresh body.
      await expect.poll(() => statuses.filter((x) => x === 304).length, { timeout: 5000 }).toBeGreaterThan(0);

      // A comment published while the page is open shows up without a reload.
      await seed(siteId, 'live-count', 'Victor', 'And the late boat on Fridays too.');
      await expect.poll(() => list.locator('#f').textContent(), { timeout: 5000 }).toBe('2 comments');
      // Every poll is one request for all the tags on the page.
      for (const url of requests)
        expect(new URL(url).searchParams.getAll('article')).toEqual(['live-count', 'quiet']);

      // Hidden (another tab in front): no requests at all, however long. Headless Chromium keeps
      // every page visible, so the page is told it is hidden the way a browser tells it.
      const setHidden = (hidden: boolean) =>
        list.evaluate((h) => {
          Object.defineProperty(document, 'visibilityState', {
            configurable: true,
            get: () => (h ? 'hidden' : 'visible'),
          });
          Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
          document.dispatchEvent(new Event('visibilitychange'));
        }, hidden);
      await setHidden(true);
      await list.waitForTimeout(300); // a poll already on the wire may still land
      const whileHidden = requests.length;
      await seed(siteId, 'live-count', 'Wen', 'Published while nobody was looking.');
      await list.waitForTimeout(3500);
      expect(requests.length - whileHidden).toBe(0);
      expect(await list.locator('#f').textContent()).toBe('2 comments');
      // Shown again: refreshed at once, and polling resumes.
      await setHidden(false);
      await expect.poll(() => list.locator('#f').textContent(), { timeout: 2000 }).toBe('3 comments');
      const shown = requests.length;
      await expect.poll(() => requests.length, { timeout: 5000 }).toBeGreaterThan(shown);
    });

    it('marks its region busy until the thread has arrived, for assistive technology', async () => {
      const siteId = await newSite();
      await seed(siteId, 'busy', 'Vic', 'Here before this reader arrived.');
      const context = await s.browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      let release: () => void = () => {};
      const held = new Promise<void>((r) => {
        release = r;
      });
      await page.route(`${s.api}/api/v1/sites/${siteId}/articles/busy/comments*`, async (route) => {
        await held;
        await route.continue();
      });
      const path = `/news/busy-${Date.now()}`;
      s.host.pages.set(path, { html: articlePage(s.api, siteId, 'busy') });
      await page.goto(`${s.host.origin}${path}`);
      const region = page.locator('parley-comments [role="region"]');
      await region.waitFor();
      expect(await region.getAttribute('aria-busy')).toBe('true');
      expect(await page.getByText('Here before this reader arrived.').count()).toBe(0);
      release();
      await expect.poll(() => region.getAttribute('aria-busy')).toBeNull();
      expect(await page.getByText('Here before this reader arrived.').count()).toBe(1);
    });

    it('follows a dark host page, and a data-theme attribute overrides it', async () => {
      const siteId = await newSite();
      s.host.pages.set('/dark.css', { type: 'text/css', html: 'body { background: #101010; color: #eee; }' });
      const dark = await open(siteId, 'theme', { head: '<link rel="stylesheet" href="/dark.css">' });
      const isDark = (p: Page) =>
        p.evaluate(() =>
          document
            .querySelector('parley-comments')!
            .shadowRoot!.querySelector('.pw')!
            .classList.contains('dark'),
        );
      expect(await isDark(dark)).toBe(true);
      // The host switches to a light look at run time (a theme toggle): the widget follows.
      await dark.evaluate(() => {
        document.body.style.background = '#fafafa';
      });
      await expect.poll(() => isDark(dark)).toBe(false);
      const forcedLight = await open(siteId, 'theme', {
        head: '<link rel="stylesheet" href="/dark.css">',
        attrs: { 'data-theme': 'light' },
      });
      expect(await isDark(forcedLight)).toBe(false);
      const light = await open(siteId, 'theme');
      expect(await isDark(light)).toBe(false);
    });
  },
);
