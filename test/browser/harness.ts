/**
 * A real publisher's setup for browser tests: Parley's API on one loopback origin, host pages on
 * two others (one on the site's allowed list, one not), and Debian's Chromium driven by
 * playwright-core. Nothing leaves 127.0.0.1.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { serveApp } from '../../src/entry';
import {
  createTestContext,
  TEST_ORIGIN,
  type TestContext,
  type TestContextOptions,
} from '../helpers/context';

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
/**
 * Debian's Chromium, headless. The networking flags keep it from calling home, which this closed
 * network would refuse, many connections at a time.
 */
export async function launchChromium(): Promise<Browser> {
  const browser = await chromium.launch({
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
  // Playwright's own default wait (30 s) equals a test's timeout, so a stalled wait used to end as
  // "Test timed out" with no step named; half of it fails first, naming the selector it waited for.
  // browser.newPage goes through newContext, so this covers both.
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    return context;
  };
  return browser;
}
/** The longest any one browser step waits unless it says otherwise. */
export const STEP_TIMEOUT_MS = 15_000;
/**
 * A browser test's timeout: a scenario of many steps took 8 s beside the full suite here and over
 * 30 s on a CI machine that ran the suite 2-2.5 times slower. A hang is still caught, by the step timeout
 * first. Speed is the benchmarks' business, not the tests'.
 */
export const BROWSER_TEST_TIMEOUT_MS = 60_000;

/**
 * The policy of the embed tests' sites: the rules are kept out of the widget's way. The bot rule
 * rejects forms sent within 2 s of being shown (tests type faster than people); seeds posted
 * through the API (as other readers) carry no form token; every browser post comes from
 * 127.0.0.1; and the learned classifier, which is retrained separately, is switched off.
 */
export const EMBED_POLICY = {
  bot: { minFormMs: 300, tokenProblemScore: 0 },
  velocity: { perIp: 10_000, perAuthor: 10_000 },
  rules: { classifier: { enabled: false } },
};

export const SKIP_REASON = `skipped: ${CHROMIUM} not found (install Debian's chromium: apt-get install -y chromium)`;
if (!hasChromium) console.warn(`[browser tests] ${SKIP_REASON}`);

export interface HostPage {
  html: string;
  csp?: string;
  type?: string;
}

export interface HostServer {
  origin: string;
  pages: Map<string, HostPage>;
  close(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

/** A tiny publisher web server: serves registered pages, each with its own CSP header. */
export async function startHost(): Promise<HostServer> {
  const pages = new Map<string, HostPage>();
  const server = createServer((req, res) => {
    const page = pages.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!page) {
      res.writeHead(404).end('not found');
      return;
    }
    const headers: Record<string, string> = { 'content-type': page.type ?? 'text/html; charset=utf-8' };
    if (page.csp) headers['content-security-policy'] = page.csp;
    res.writeHead(200, headers).end(page.html);
  });
  const origin = await listen(server);
  return {
    origin,
    pages,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface Stack {
  t: TestContext;
  api: string;
  host: HostServer;
  other: HostServer;
  browser: Browser;
  close(): Promise<void>;
}

/** Parley with its workers, the two host servers and Chromium; `env` adds to the test config. */
export async function startStack(env: TestContextOptions['env'] = {}): Promise<Stack> {
  const t = await createTestContext({ workers: true, env });
  // The production front: the node:http fast paths in front of the app, as src/entry.ts serves it.
  const server = serveApp(t.app, 0, '127.0.0.1');
  await new Promise<void>((r) => (server.listening ? r() : server.once('listening', () => r())));
  const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const host = await startHost();
  const other = await startHost();
  const browser = await launchChromium();
  return {
    t,
    api,
    host,
    other,
    browser,
    async close() {
      await browser.close().catch(() => {});
      await host.close();
      await other.close();
      await new Promise<void>((r) => server.close(() => r()));
      await t.close();
    },
  };
}

/**
 * One embed test file's stack: started before its tests (when Chromium is there) and closed after
 * them with every browser context the file opened. `s` reads through to the running stack.
 */
export function embedSuite(env: TestContextOptions['env'] = {}) {
  let stack: Stack | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    if (hasChromium) stack = await startStack(env);
  }, 60_000);
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await stack?.close();
  });
  const live = (): Stack => {
    if (!stack) throw new Error('the stack starts in beforeAll, and only where Chromium is installed');
    return stack;
  };
  const s: Stack = {
    get t() {
      return live().t;
    },
    get api() {
      return live().api;
    },
    get host() {
      return live().host;
    },
    get other() {
      return live().other;
    },
    get browser() {
      return live().browser;
    },
    close: () => live().close(),
  };
  /** A site with the embed tests' policy (or another), open to the host page and the test origin. */
  const newSite = (policy: object = EMBED_POLICY) => s.t.site(policy, [s.host.origin, TEST_ORIGIN]);
  return { s, contexts, newSite };
}

export interface OpenOptions {
  host?: HostServer;
  csp?: string;
  attrs?: Record<string, string>;
  head?: string;
  before?: string;
  after?: string;
  /** A browser context to open the page in; by default a new one, added to `contexts`. */
  context?: BrowserContext;
}

/**
 * A publisher's article page with the embed, at a path of its own on the host server, opened once
 * the widget has drawn the thread's first answer. Script errors are kept on `page.errors` and CSP violations on
 * `window.__csp`, so a test can require that there were none.
 */
export async function openArticle(
  s: Stack,
  contexts: BrowserContext[],
  siteId: string,
  article: string,
  o: OpenOptions = {},
): Promise<Page & { errors: string[] }> {
  const host = o.host ?? s.host;
  const path = `/news/${randomUUID()}`;
  host.pages.set(path, { html: articlePage(s.api, siteId, article, o), csp: o.csp });
  const context = o.context ?? (await s.browser.newContext({ viewport: { width: 1000, height: 900 } }));
  if (!o.context) contexts.push(context);
  const page = Object.assign(await context.newPage(), { errors: [] as string[] });
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  await page.goto(`${host.origin}${path}`);
  // Until the thread's first answer is drawn the widget's region is aria-busy.
  await page.locator('parley-comments [role="region"]:not([aria-busy])').first().waitFor({ timeout: 10_000 });
  return page;
}

/** Posts from the page's form as a reader; `mine` finds the comment by id, whatever its text becomes. */
export async function postFromPage(page: Page, name: string, body: string) {
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Comment', { exact: true }).fill(body);
  // Past the form token's minimum age, so the bot guard does not hold it.
  await page.waitForTimeout(400);
  await page.getByRole('button', { name: 'Post comment' }).click();
  const posted = page.locator('parley-comments li.c', { hasText: body });
  await posted.waitFor();
  const id = (await posted.getAttribute('data-id'))!;
  return { mine: page.locator(`parley-comments li.c[data-id="${id}"]`), id };
}

/** What has focus inside the widget's shadow root. */
export const focusedInWidget = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement?.shadowRoot?.activeElement as HTMLElement | null | undefined;
    return el
      ? { tag: el.tagName.toLowerCase(), text: el.textContent?.slice(0, 60), id: el.dataset.id }
      : null;
  });

export const escapeAttr = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A publisher's article page with the one embed tag. */
export function articlePage(
  api: string,
  site: string,
  article: string,
  opts: { attrs?: Record<string, string>; head?: string; before?: string; after?: string } = {},
): string {
  const attrs = Object.entries(opts.attrs ?? {})
    .map(([k, v]) => ` ${k}="${escapeAttr(v)}"`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host article ${escapeAttr(article)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">${opts.head ?? ''}</head>
<body><h1>An article</h1>${opts.before ?? ''}
<script src="${api}/embed.js" data-site="${escapeAttr(site)}" data-article="${escapeAttr(article)}"${attrs} async></script>
${opts.after ?? ''}</body></html>`;
}

/** The CSP a careful publisher sends: no inline script or style, Parley allowed by origin. */
export function strictCsp(api: string): string {
  return `default-src 'none'; script-src ${api}; connect-src ${api}; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'`;
}
