/**
 * The demo article page at `/`, as the Quickstart shows it: served by Parley itself under its
 * strict CSP. Saves screenshots (desktop and 320 px, light and dark) under test-output/.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ARTICLE_ID, DEMO_SITE_ID } from '../../src/routes/demo';
import { waitFor } from '../helpers/context';
import { BROWSER_TEST_TIMEOUT_MS, hasChromium, SKIP_REASON, type Stack, startStack } from './harness';

let s: Stack;
const OUT = 'test-output';

beforeAll(async () => {
  if (!hasChromium) return;
  s = await startStack();
  mkdirSync(OUT, { recursive: true });
  // Loaded after the app (startStack) so module initialisation order matches the server's.
  const { createSite } = await import('../../src/repositories/sites');
  await s.t.rt.db.transaction().execute((trx) =>
    createSite(trx, {
      id: DEMO_SITE_ID,
      name: 'Parley demo',
      allowedOrigins: [s.api, 'https://news.example'],
      policy: { bot: { minFormMs: 300, tokenProblemScore: 0 }, rules: { classifier: { enabled: false } } },
    }),
  );
  const post = async (authorName: string, body: string, parentId?: string) => {
    const res = await s.t.submit(DEMO_SITE_ID, DEMO_ARTICLE_ID, { authorName, body, parentId });
    const { id } = (await res.json()) as { id: string };
    await waitFor(async () => {
      const r = await s.t.request('GET', `/api/v1/sites/${DEMO_SITE_ID}/comments/${id}`);
      return ((await r.json()) as { status: string }).status === 'published';
    }, 'demo comment published');
    return id;
  };
  const first = await post(
    'Margaret from the harbour',
    'My grandfather kept that light for thirty years. Glad the council saw sense.\n\nThe footpath can wait a year.',
  );
  await post('Tom', 'Respectfully, the footpath is how my kids get to school. A year is a long time.', first);
  await post('Priya', 'Could the lamp be replaced with an LED one? Cheaper to run, surely.');
}, 90_000);
afterAll(async () => {
  await s?.close();
});

const SUITE = hasChromium ? 'the demo page' : `the demo page (${SKIP_REASON})`;
describe.skipIf(!hasChromium)(SUITE, { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  for (const scheme of ['light', 'dark'] as const) {
    for (const width of [1280, 320]) {
      it(`renders the article and its comments at ${width} px, ${scheme}, under the page's CSP`, async () => {
        const context = await s.browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme });
        try {
          const page = await context.newPage();
          await page.addInitScript(() => {
            const w = window as unknown as { __csp: string[] };
            w.__csp = [];
            document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(e.violatedDirective));
          });
          // A failed load (a missing icon, say) is logged as a console error: there must be none.
          const consoleErrors: string[] = [];
          page.on('console', (m) => {
            if (m.type() === 'error') consoleErrors.push(m.text());
          });
          const res = await page.goto(`${s.api}/`);
          expect(res?.headers()['content-security-policy']).toContain("default-src 'none'");
          await page.getByText('Could the lamp be replaced').waitFor();
          await expect.poll(() => page.locator('[data-parley-count]').textContent()).toBe('3 comments');
          const isDark = await page.evaluate(() =>
            document
              .querySelector('parley-comments')!
              .shadowRoot!.querySelector('.pw')!
              .classList.contains('dark'),
          );
          expect(isDark).toBe(scheme === 'dark');
          // Nothing sticks out sideways on a small phone.
          expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(width);
          expect(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp)).toEqual([]);
          expect(consoleErrors).toEqual([]);
          await page.screenshot({ path: `${OUT}/demo-${width}-${scheme}.png`, fullPage: true });
        } finally {
          await context.close();
        }
      });
    }
  }

  it('takes a comment from the demo page itself', async () => {
    const context = await s.browser.newContext({ viewport: { width: 1280, height: 900 } });
    try {
      const page = await context.newPage();
      await page.goto(`${s.api}/`);
      await page.getByLabel('Name').fill('Quickstart reader');
      await page.getByLabel('Comment', { exact: true }).fill('Trying Parley from the demo page.');
      await page.waitForTimeout(400);
      await page.getByRole('button', { name: 'Post comment' }).click();
      await page.locator('parley-comments .badge').waitFor();
      await page.screenshot({ path: `${OUT}/demo-1280-posted.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });
});
