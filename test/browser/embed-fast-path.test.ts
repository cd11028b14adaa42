/**
 * The embed against the production front, with sites held in the API's cache as in production
 * (CACHE_TTL_MS): Chromium's CORS preflight goes to the full route, the comment's POST is taken by
 * the submission fast path on node:http, and another reader's page shows the published comment.
 * Skips (with the reason printed) without /usr/bin/chromium.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/context';
import {
  BROWSER_TEST_TIMEOUT_MS,
  embedSuite,
  hasChromium,
  openArticle,
  postFromPage,
  SKIP_REASON,
} from './harness';

const { s, contexts, newSite } = embedSuite({ CACHE_TTL_MS: '60000' });

describe.skipIf(!hasChromium)(
  hasChromium ? 'the embed on the fast paths in Chromium' : `the embed on the fast paths (${SKIP_REASON})`,
  { timeout: BROWSER_TEST_TIMEOUT_MS },
  () => {
    it('posts a comment through the submission fast path and shows it to the next reader', async () => {
      const siteId = await newSite();
      const page = await openArticle(s, contexts, siteId, 'fast-lane');
      const before = s.t.app.fastSubmit.taken;
      const body = `Sent on the fast path ${Date.now()}`;
      const { id } = await postFromPage(page, 'Ann', body);
      expect(s.t.app.fastSubmit.taken).toBe(before + 1);

      // What the browser sent reached the row: its user agent, and the referrer it allows across
      // origins (strict-origin-when-cross-origin: the page's origin alone).
      const row = await s.t.rt.db
        .selectFrom('comments')
        .select(['status', 'user_agent', 'referrer', 'signals'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      expect(row.user_agent).toMatch(/Chrome/);
      expect(row.referrer).toBe(`${s.host.origin}/`);
      expect(row.signals).toMatchObject({ formToken: 'ok', honeypot: false });
      await waitFor(
        async () =>
          (await s.t.rt.db.selectFrom('comments').select('status').where('id', '=', id).executeTakeFirst())
            ?.status === 'published',
        'the comment published',
      );

      const next = await openArticle(s, contexts, siteId, 'fast-lane');
      await next.locator('parley-comments li.c', { hasText: body }).waitFor();
      expect(page.errors).toEqual([]);
      expect(next.errors).toEqual([]);
    });
  },
);
