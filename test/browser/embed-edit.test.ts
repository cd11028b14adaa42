/**
 * A reader edits their own comment from the embed, in Chromium, against the real API and workers:
 * the inline editor (labelled, Escape and Cancel return focus), the edited text awaiting moderation
 * for its author only and then published again with an "edited" mark that other readers see too,
 * and the refusals (empty text, the window closed, editing off). Skips (with the reason printed)
 * without /usr/bin/chromium.
 */
import type { Locator, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/context';
import {
  BROWSER_TEST_TIMEOUT_MS,
  EMBED_POLICY,
  embedSuite,
  focusedInWidget,
  hasChromium,
  openArticle,
  postFromPage,
  SKIP_REASON,
} from './harness';

const POLICY = EMBED_POLICY;

const { s, contexts, newSite } = embedSuite();

const comment = (id: string) =>
  s.t.rt.db.selectFrom('comments').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

const open = (siteId: string, article: string, attrs: Record<string, string> = {}) =>
  openArticle(s, contexts, siteId, article, { attrs });

const post = postFromPage;

const focused = focusedInWidget;

/** The form's live region, where the widget tells the author what happened. */
const statusRegion = (page: Page) => page.locator('parley-comments form [role=status]').first();
const status = (page: Page) => statusRegion(page).textContent();

/**
 * Records what the author is told from now on: every text the form's live region announces (runs
 * of the same text once), and whether their comment showed the "Awaiting moderation" badge. The
 * worker may publish an edit within milliseconds, and the page's next poll then replaces both at
 * once: read once, they could already show the later state (a flaky failure seen in CI).
 */
async function recordAuthorView(
  page: Page,
  li: Locator,
): Promise<() => Promise<{ said: string[]; badge: boolean }>> {
  const region = statusRegion(page);
  await region.evaluate((el) => {
    const said: string[] = [];
    (el as unknown as { parleySaid: string[] }).parleySaid = said;
    new MutationObserver(() => {
      const text = el.textContent ?? '';
      if (said.at(-1) !== text) said.push(text);
    }).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await li.evaluate((el) => {
    const seen = { badge: false };
    (el as unknown as { parleySeen: typeof seen }).parleySeen = seen;
    new MutationObserver(() => {
      if (el.querySelector(':scope > .head .badge')?.textContent === 'Awaiting moderation') seen.badge = true;
    }).observe(el, { childList: true, subtree: true });
  });
  return async () => ({
    said: await region.evaluate((el) => [...(el as unknown as { parleySaid: string[] }).parleySaid]),
    badge: await li.evaluate((el) => (el as unknown as { parleySeen: { badge: boolean } }).parleySeen.badge),
  });
}

describe.skipIf(!hasChromium)(
  hasChromium ? 'editing one’s own comment in Chromium' : `editing one’s own comment (${SKIP_REASON})`,
  { timeout: BROWSER_TEST_TIMEOUT_MS },
  () => {
    it('once published: edits in place, awaits moderation again for its author only, then shows as edited to everyone', async () => {
      const siteId = await newSite();
      const page = await open(siteId, 'edit', { 'data-poll': '1' });
      const first = 'The lamp keepers deserve a pay rise, in my view.';
      const { mine, id } = await post(page, 'Vera', first);
      await mine.locator('.badge').waitFor({ state: 'detached', timeout: 15_000 });
      // Another reader with the page open (it polls every second) sees the first text, and no Edit.
      const other = await open(siteId, 'edit', { 'data-poll': '1' });
      const theirs = other.locator(`parley-comments li.c[data-id="${id}"]`);
      await theirs.getByText(first).waitFor();
      expect(await other.getByRole('button', { name: 'Edit your comment' }).count()).toBe(0);

      const edit = mine.getByRole('button', { name: 'Edit your comment' });
      expect(await mine.locator('> .actions button').allTextContents()).toEqual([
        'Reply',
        'Report',
        'Edit',
        'Delete',
      ]);
      await edit.click();
      const box = mine.getByRole('textbox', { name: 'Edit your comment' });
      await box.waitFor();
      // The editor opens on the current text, with focus in it.
      expect(await box.inputValue()).toBe(first);
      expect(await focused(page)).toMatchObject({ tag: 'textarea' });
      await page.keyboard.press('Escape');
      expect(await box.count()).toBe(0);
      expect(await focused(page)).toMatchObject({ tag: 'button', text: 'Edit' });
      await page.keyboard.press('Enter');
      await box.waitFor();
      await mine.getByRole('button', { name: 'Cancel' }).click();
      expect(await box.count()).toBe(0);
      expect(await focused(page)).toMatchObject({ tag: 'button', text: 'Edit' });

      // An empty text is refused next to the field, before anything is sent.
      await edit.click();
      await box.fill('   ');
      await mine.getByRole('button', { name: 'Save' }).click();
      expect(await box.getAttribute('aria-invalid')).toBe('true');
      await mine.getByText('Write a comment.').waitFor();
      expect(await status(page)).toBe('Write a comment.');
      expect((await comment(id)).revision).toBe(0);

      const second = 'The lamp keepers deserve a pay rise, and a new boat.';
      await box.fill(second);
      const seen = await recordAuthorView(page, mine);
      await page.keyboard.press('Tab');
      await page.keyboard.press('Enter');
      await mine.locator('.head .edited').waitFor();
      expect(await mine.locator('> .body').textContent()).toBe(second);
      expect(await mine.locator('> .head .edited').textContent()).toBe('edited');
      expect(await focused(page)).toMatchObject({ tag: 'li', id });
      expect((await comment(id)).revision).toBe(1);

      // The worker publishes the new text: the badge goes for its author, and the reader whose page
      // is open sees the new text with the mark at a poll, as does a fresh load.
      await mine.locator('.badge').waitFor({ state: 'detached', timeout: 15_000 });
      expect(await status(page)).toBe('Your comment has been published.');
      // In between, the author was told the edit awaits moderation, and the comment wore the badge.
      expect(await seen()).toEqual({
        said: ['Your edit was saved and is awaiting moderation.', 'Your comment has been published.'],
        badge: true,
      });
      await theirs.getByText(second).waitFor({ timeout: 5000 });
      expect(await theirs.locator('> .head .edited').count()).toBe(1);
      expect(await other.getByText(first).count()).toBe(0);
      const fresh = await open(siteId, 'edit');
      const again = fresh.locator(`parley-comments li.c[data-id="${id}"]`);
      await again.getByText(second).waitFor();
      expect(await again.locator('> .head .edited').textContent()).toBe('edited');
      expect(await fresh.getByRole('button', { name: 'Edit your comment' }).count()).toBe(0);
      // Its author may still change it while the window is open; a reload keeps Edit.
      await page.reload();
      await page.locator('parley-comments h2').waitFor();
      await page.locator(`parley-comments li.c[data-id="${id}"]`).getByText(second).waitFor();
      expect(await page.getByRole('button', { name: 'Edit your comment' }).count()).toBe(1);
      for (const p of [page, other, fresh]) expect((p as Page & { errors: string[] }).errors).toEqual([]);
    });

    it('while it awaits moderation: the edited text stays pending, across a reload, until it is decided', async () => {
      const siteId = await newSite({ ...POLICY, premoderate: true });
      const page = await open(siteId, 'pending');
      const { mine, id } = await post(page, 'Walt', 'A first draft with a tpyo in it.');
      await mine.locator('.badge', { hasText: 'Awaiting moderation' }).waitFor();
      expect(await mine.locator('> .actions button').allTextContents()).toEqual(['Edit', 'Delete']);
      await mine.getByRole('button', { name: 'Edit your comment' }).click();
      await mine.getByRole('textbox', { name: 'Edit your comment' }).fill('A first draft without the typo.');
      await mine.getByRole('button', { name: 'Save' }).click();
      await waitFor(async () => (await comment(id)).revision === 1, 'the edit stored');
      expect(await mine.locator('> .body').textContent()).toBe('A first draft without the typo.');
      expect(await mine.locator('.badge').count()).toBe(1);
      await waitFor(async () => (await comment(id)).status === 'held', 'held again by the worker');

      await page.reload();
      await page.locator('parley-comments h2').waitFor();
      const reloaded = page.locator(`parley-comments li.c[data-id="${id}"]`);
      await reloaded.getByText('A first draft without the typo.').waitFor();
      expect(await reloaded.locator('.badge').textContent()).toBe('Awaiting moderation');
      expect((page as Page & { errors: string[] }).errors).toEqual([]);
    });

    it('keeps markup as text: the editor opens on the text as written, and the edit shows as typed', async () => {
      const siteId = await newSite({ ...POLICY, premoderate: true });
      const page = await open(siteId, 'markup');
      const first = 'Fish & chips <b>tonight</b>?';
      const { mine, id } = await post(page, 'Zoe', first);
      await mine.getByRole('button', { name: 'Edit your comment' }).click();
      const box = mine.getByRole('textbox', { name: 'Edit your comment' });
      // Read from the comment as text: its markup, escaped, would turn into &amp; and &lt;b&gt;.
      expect(await box.inputValue()).toBe(first);
      // An edit is drawn by replacing the text in place, a different path from the first rendering.
      const second = '<img src=x onerror="window.__pwned=1"> & <b>bold</b>';
      await box.fill(second);
      await mine.getByRole('button', { name: 'Save' }).click();
      await waitFor(async () => (await comment(id)).revision === 1, 'the edit stored');
      await expect.poll(() => mine.locator('> .body').textContent()).toBe(second);
      expect(await mine.locator('img, b').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect((page as Page & { errors: string[] }).errors).toEqual([]);
    });

    it('says when the window has closed, and offers no Edit where the site turned editing off', async () => {
      const siteId = await newSite({ ...POLICY, editWindowSeconds: 60 });
      const page = await open(siteId, 'late');
      const { mine, id } = await post(page, 'Xena', 'Written a minute too early.');
      await mine.locator('.badge').waitFor({ state: 'detached', timeout: 15_000 });
      await mine.getByRole('button', { name: 'Edit your comment' }).click();
      // The server's clock decides: it was posted over a minute ago by now.
      await s.t.rt.db
        .updateTable('comments')
        .set({ created_at: new Date(Date.now() - 61_000) })
        .where('id', '=', id)
        .execute();
      await mine.getByRole('textbox', { name: 'Edit your comment' }).fill('Too late to change it.');
      await mine.getByRole('button', { name: 'Save' }).click();
      await expect.poll(() => status(page)).toBe('The time to edit this comment has passed.');
      expect(await mine.getByRole('textbox', { name: 'Edit your comment' }).count()).toBe(0);
      expect(await mine.getByRole('button', { name: 'Edit your comment' }).count()).toBe(0);
      expect(await mine.locator('> .body').textContent()).toBe('Written a minute too early.');
      expect(await mine.getByRole('button', { name: 'Delete your comment' }).count()).toBe(1);

      const off = await newSite({ ...POLICY, editWindowSeconds: 0 });
      const offPage = await open(off, 'off');
      const { mine: offMine } = await post(offPage, 'Yann', 'No second thoughts on this site.');
      await offMine.getByRole('button', { name: 'Delete your comment' }).waitFor();
      expect(await offMine.getByRole('button', { name: 'Edit your comment' }).count()).toBe(0);
      for (const p of [page, offPage]) expect((p as Page & { errors: string[] }).errors).toEqual([]);
    });
  },
);
