/**
 * A reader deletes their own comment from the embed, in Chromium, against the real API and
 * workers: while it awaits moderation, once published, and once other readers have answered it
 * (the answers stay, under a tombstone). Skips (with the reason printed) without /usr/bin/chromium.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { TEST_ORIGIN, waitFor } from '../helpers/context';
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

async function statusOf(id: string): Promise<string> {
  const r = await s.t.rt.db
    .selectFrom('comments')
    .select('status')
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  return r.status;
}

/** The author token each seed's 202 carried, as that reader's browser would keep it. */
const authorTokens = new Map<string, string>();

/** Posts through the API as another reader and waits until the workers publish it. */
async function seed(siteId: string, article: string, authorName: string, body: string, parentId?: string) {
  const res = await s.t.submit(siteId, article, { authorName, body, ...(parentId ? { parentId } : {}) });
  expect(res.status).toBe(202);
  const { id, authorToken } = (await res.json()) as { id: string; authorToken: string };
  authorTokens.set(id, authorToken);
  await waitFor(async () => (await statusOf(id)) === 'published', `seed ${id} published`);
  return id;
}

const open = (
  siteId: string,
  article: string,
  context?: BrowserContext,
  attrs: Record<string, string> = {},
) => openArticle(s, contexts, siteId, article, { context, attrs });

const post = postFromPage;

const focused = focusedInWidget;

const stored = (page: Page) =>
  page.evaluate(() =>
    Object.fromEntries(
      Object.keys(localStorage)
        .filter((k) => k.startsWith('parley:authored') || k.startsWith('parley:pending'))
        .map((k) => [k, JSON.parse(localStorage.getItem(k)!)]),
    ),
  );

const status = (page: Page) => page.locator('parley-comments form [role=status]').first().textContent();

describe.skipIf(!hasChromium)(
  hasChromium ? 'deleting one’s own comment in Chromium' : `deleting one’s own comment (${SKIP_REASON})`,
  { timeout: BROWSER_TEST_TIMEOUT_MS },
  () => {
    it('while it awaits moderation: asks first, Cancel and Escape keep it, Delete removes it for good', async () => {
      const siteId = await newSite({ ...POLICY, premoderate: true });
      const page = await open(siteId, 'pending');
      const { mine, id } = await post(page, 'Mara', 'Posted in anger, regretted at once.');
      await mine.locator('.badge', { hasText: 'Awaiting moderation' }).waitFor();
      // The token is kept in this browser, next to the pending note.
      expect(Object.keys(await stored(page)).sort()).toEqual([
        `parley:authored:${siteId}`,
        `parley:pending:${siteId}:pending`,
      ]);
      expect((await stored(page))[`parley:authored:${siteId}`]).toEqual([[id, expect.any(String)]]);

      const del = mine.getByRole('button', { name: 'Delete your comment' });
      await del.click();
      const ask = mine.getByRole('group', { name: 'Delete your comment? This cannot be undone.' });
      await ask.waitFor();
      expect(await focused(page)).toMatchObject({ tag: 'button', text: 'Delete comment' });
      await ask.getByRole('button', { name: 'Cancel' }).click();
      expect(await ask.count()).toBe(0);
      expect(await focused(page)).toMatchObject({ tag: 'button', text: 'Delete' });
      await page.keyboard.press('Enter');
      await ask.waitFor();
      await page.keyboard.press('Escape');
      expect(await ask.count()).toBe(0);
      expect(await focused(page)).toMatchObject({ tag: 'button', text: 'Delete' });
      expect(await statusOf(id)).toBe('held');

      // Keyboard only: open, confirm.
      await page.keyboard.press('Enter');
      await ask.waitFor();
      await page.keyboard.press('Enter');
      await mine.waitFor({ state: 'detached' });
      expect(await status(page)).toBe('Your comment was deleted.');
      await page.getByText('No comments yet.').waitFor();
      expect(await focused(page)).toMatchObject({ tag: 'h2' });
      expect(await statusOf(id)).toBe('deleted');
      expect(await stored(page)).toEqual({});

      await page.reload();
      await page.locator('parley-comments h2').waitFor();
      await page.waitForTimeout(500);
      expect(await page.getByText('Posted in anger').count()).toBe(0);
      expect((page as Page & { errors: string[] }).errors).toEqual([]);
    });

    it('once published: it leaves the thread, the count follows, and only its author was offered Delete', async () => {
      const siteId = await newSite();
      await seed(siteId, 'published', 'Nils', 'Somebody else’s comment, which stays.');
      const page = await open(siteId, 'published');
      const { mine, id } = await post(page, 'Olga', 'A published comment I will take back.');
      await mine.locator('.badge').waitFor({ state: 'detached', timeout: 15_000 });
      await expect
        .poll(() => page.locator('parley-comments h2').textContent(), { timeout: 5000 })
        .toBe('Comments (2)');
      // Reply and Report as for anyone, plus Delete on one's own comment only.
      await mine.getByRole('button', { name: 'Reply to Olga' }).waitFor();
      expect(await page.getByRole('button', { name: 'Delete your comment' }).count()).toBe(1);

      // A reader in another browser sees it and has no Delete.
      const other = await open(siteId, 'published');
      await other.getByText('A published comment I will take back.').waitFor();
      expect(await other.getByRole('button', { name: 'Delete your comment' }).count()).toBe(0);

      await mine.getByRole('button', { name: 'Delete your comment' }).click();
      await mine.getByRole('button', { name: 'Delete comment' }).click();
      await mine.waitFor({ state: 'detached' });
      expect(await status(page)).toBe('Your comment was deleted.');
      // Focus moves to the neighbouring comment, not into nowhere.
      expect(await focused(page)).toMatchObject({ tag: 'li' });
      expect(await statusOf(id)).toBe('deleted');
      await expect
        .poll(() => page.locator('parley-comments h2').textContent(), { timeout: 5000 })
        .toBe('Comments (1)');

      await other.reload();
      await other.getByText('Somebody else’s comment, which stays.').waitFor();
      expect(await other.getByText('A published comment I will take back.').count()).toBe(0);
      expect(await other.locator('parley-comments h2').textContent()).toBe('Comments (1)');
      expect((page as Page & { errors: string[] }).errors).toEqual([]);
    });

    it('keeps another reader’s reply visible under a tombstone, for the author and for everyone else', async () => {
      const siteId = await newSite();
      const page = await open(siteId, 'tomb', undefined, { 'data-poll': '1' });
      const { mine, id } = await post(page, 'Pia', 'The lamp is a waste of the town’s money.');
      await mine.locator('.badge').waitFor({ state: 'detached', timeout: 15_000 });
      const reply = await seed(siteId, 'tomb', 'Quentin', 'I disagree: ships still use it.', id);
      // Another reader has the page open while it happens (it polls every second).
      const other = await open(siteId, 'tomb', undefined, { 'data-poll': '1' });
      await other.getByText('The lamp is a waste').waitFor();
      await page.getByText('I disagree: ships still use it.').waitFor({ timeout: 5000 });

      await mine.getByRole('button', { name: 'Delete your comment' }).click();
      await mine.getByRole('button', { name: 'Delete comment' }).click();
      const tomb = page.locator(`parley-comments li.c[data-id="${id}"]`);
      await tomb.getByText('This comment was deleted by its author.').waitFor();
      expect(await tomb.locator('> .head').count()).toBe(0);
      expect(await page.getByText('The lamp is a waste').count()).toBe(0);
      expect(await tomb.locator(`li.c[data-id="${reply}"] .body`).textContent()).toBe(
        'I disagree: ships still use it.',
      );
      // Only the reply's own Reply and Report: a tombstone has no actions.
      expect(await tomb.getByRole('button').count()).toBe(2);
      expect(await focused(page)).toMatchObject({ tag: 'li', id });
      expect(await status(page)).toBe('Your comment was deleted.');
      // The tombstone is named by its note, its replies by what they answer.
      expect(
        await page.getByRole('listitem', { name: 'This comment was deleted by its author.' }).count(),
      ).toBe(1);
      expect(await page.getByRole('list', { name: 'Replies to a deleted comment' }).count()).toBe(1);
      expect(await statusOf(id)).toBe('deleted');
      await expect
        .poll(() => page.locator('parley-comments h2').textContent(), { timeout: 5000 })
        .toBe('Comments (1)');

      // The other reader's open page turns it into the tombstone at its next poll; a fresh load
      // shows the same.
      const otherTomb = other.locator(`parley-comments li.c[data-id="${id}"]`);
      await otherTomb.getByText('This comment was deleted by its author.').waitFor({ timeout: 5000 });
      expect(await other.getByText('The lamp is a waste').count()).toBe(0);
      expect(await otherTomb.getByText('I disagree: ships still use it.').count()).toBe(1);
      const fresh = await open(siteId, 'tomb');
      const freshTomb = fresh.locator(`parley-comments li.c[data-id="${id}"]`);
      await freshTomb.getByText('This comment was deleted by its author.').waitFor();
      expect(await freshTomb.locator(`li.c[data-id="${reply}"] .name`).textContent()).toBe('Quentin');
      expect(await fresh.getByText('Pia').count()).toBe(0);
      expect(await fresh.locator('parley-comments h2').textContent()).toBe('Comments (1)');
      // No Reply on a tombstone: there is nothing to answer.
      expect(await freshTomb.getByRole('button', { name: /Reply to/ }).count()).toBe(1);
      for (const p of [page, other, fresh]) expect((p as Page & { errors: string[] }).errors).toEqual([]);
    });

    it('takes comments down from open pages at the next poll: rejected after publishing, or deleted by their author', async () => {
      const siteId = await newSite();
      const keep = await seed(siteId, 'down', 'Rosa', 'The ferry timetable is finally sensible.');
      const abusive = await seed(siteId, 'down', 'Troll', 'Something a moderator will take back down.');
      const answered = await seed(siteId, 'down', 'Sam', 'Will the night ferry run in winter?');
      const reply = await seed(siteId, 'down', 'Tess', 'Only on weekends, says the council.', answered);
      const regret = await seed(siteId, 'down', 'Uli', 'A reply its author thinks better of.', answered);
      const page = await open(siteId, 'down', undefined, { 'data-poll': '1' });
      const shown = (id: string) => page.locator(`parley-comments li.c[data-id="${id}"]`).count();
      // The heading is drawn before the thread's first answer: wait for that answer's comments.
      for (const id of [keep, abusive, answered, reply, regret]) {
        await expect.poll(() => shown(id), { timeout: 5000 }).toBe(1);
      }

      // A moderator rejects a published comment; its author deletes a reply (with the token the
      // 202 gave them, as the embed does).
      const moderator = await s.t.token(siteId, 'moderator');
      const rejected = await s.t.request(
        'POST',
        `/api/v1/moderation/sites/${siteId}/comments/${abusive}/reject`,
        { reasonCode: 'abusive', expectedStatus: 'published' },
        { authorization: `Bearer ${moderator}` },
      );
      expect(rejected.status).toBe(200);
      const token = authorTokens.get(regret)!;
      const withdrawn = await s.t.request(
        'POST',
        `/api/v1/sites/${siteId}/comments/${regret}/withdraw`,
        { authorToken: token },
        { origin: TEST_ORIGIN },
      );
      expect(withdrawn.status).toBe(200);

      await expect.poll(() => shown(abusive), { timeout: 5000 }).toBe(0);
      await expect.poll(() => shown(regret), { timeout: 5000 }).toBe(0);
      for (const id of [keep, answered, reply]) expect(await shown(id)).toBe(1);
      expect(await page.getByText('Something a moderator will take back down.').count()).toBe(0);
      expect((page as Page & { errors: string[] }).errors).toEqual([]);
    });

    it('takes comments down from pages loaded with "Load more" too, including the first page’s old end after new comments pushed it along', async () => {
      const siteId = await newSite();
      // Newest first, two a page: r4 r3 | r2 r1 | r0.
      const roots: string[] = [];
      for (let i = 0; i < 5; i++)
        roots.push(await seed(siteId, 'more', `R${i}`, `Root number ${i} of five.`));
      const replyOnLast = await seed(siteId, 'more', 'Vic', 'A reply on the last page.', roots[0]);
      const page = await open(siteId, 'more', undefined, { 'data-poll': '1', 'data-page-size': '2' });
      const shown = (id: string) => page.locator(`parley-comments li.c[data-id="${id}"]`).count();
      const more = page.getByRole('button', { name: 'Load more comments' });
      await more.click();
      await page.getByText('Root number 1 of five.').waitFor();
      await more.click();
      await page.getByText('A reply on the last page.').waitFor();
      for (const id of [...roots, replyOnLast]) expect(await shown(id)).toBe(1);

      // Two new comments push r4 and r3 off the first page (they now sit between it and the
      // pages loaded with "Load more").
      const fresh = [
        await seed(siteId, 'more', 'N0', 'A newer comment.'),
        await seed(siteId, 'more', 'N1', 'The newest comment.'),
      ];
      for (const id of fresh) await expect.poll(() => shown(id), { timeout: 5000 }).toBe(1);

      // Taken down: r3 (pushed along), r1 (second page, by a moderator), the reply on the last page
      // (by its author).
      const moderator = await s.t.token(siteId, 'moderator');
      const rejected = await s.t.request(
        'POST',
        `/api/v1/moderation/sites/${siteId}/comments/${roots[1]}/reject`,
        { reasonCode: 'abusive', expectedStatus: 'published' },
        { authorization: `Bearer ${moderator}` },
      );
      expect(rejected.status).toBe(200);
      for (const id of [roots[3]!, replyOnLast]) {
        const withdrawn = await s.t.request(
          'POST',
          `/api/v1/sites/${siteId}/comments/${id}/withdraw`,
          { authorToken: authorTokens.get(id) },
          { origin: TEST_ORIGIN },
        );
        expect(withdrawn.status).toBe(200);
      }
      // Re-read every third poll (here every three seconds).
      for (const id of [roots[3]!, roots[1]!, replyOnLast]) {
        await expect.poll(() => shown(id), { timeout: 8000 }).toBe(0);
      }
      for (const id of [roots[4]!, roots[2]!, roots[0]!, ...fresh]) expect(await shown(id)).toBe(1);
      expect((page as Page & { errors: string[] }).errors).toEqual([]);
    });
  },
);
