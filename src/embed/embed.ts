/**
 * embed.js: a publisher pastes
 *   <script src="https://PARLEY_HOST/embed.js" data-site="SITE" data-article="ID" async></script>
 * and gets the article's thread and comment form in place of the tag (or in data-container), plus
 * every `[data-parley-count]` element on the page filled with its article's comment count, kept current.
 */
import { Api, baseOf } from './api';
import { pollMsOf, watchCounts } from './counts';
import { Widget } from './widget';

declare const __PARLEY_MAX_CHARS__: number;

function canonical(): string | undefined {
  const link = document.querySelector<HTMLLinkElement>('link[rel="canonical"]');
  const url = link?.href || location.href;
  return /^https?:/.test(url) ? url : undefined;
}

function mount(script: HTMLScriptElement): void {
  const d = script.dataset;
  if (!d.site || d.parleyMounted) return;
  d.parleyMounted = '1';
  const api = new Api(baseOf(script), d.site);
  const article = d.article || canonical();
  if (article) {
    const target = d.container ? document.querySelector(d.container) : null;
    const host = document.createElement('parley-comments');
    if (target) target.replaceChildren(host);
    else script.after(host);
    new Widget(host, {
      api,
      article,
      articleUrl: d.articleUrl || canonical(),
      articleTitle: (d.articleTitle || document.title).slice(0, 300) || undefined,
      order: d.order === 'oldest' ? 'oldest' : 'newest',
      pageSize: Math.min(Math.max(Number(d.pageSize) || 20, 1), 100),
      pollMs: pollMsOf(d.poll),
      theme: d.theme || 'auto',
      maxChars: __PARLEY_MAX_CHARS__,
    }).start();
  }
  // Count tags follow at the thread's pace (data-poll), and at once when the reader's comment is published.
  watchCounts(api, pollMsOf(d.poll));
}

function run(): void {
  const own = document.currentScript as HTMLScriptElement | null;
  if (own && document.readyState === 'loading') {
    // A container or count tags further down the page are not parsed yet.
    document.addEventListener('DOMContentLoaded', () => mount(own));
    return;
  }
  // Loaded in a way that hides currentScript: mount every tag that points at this script.
  const tags = own ? [own] : document.querySelectorAll<HTMLScriptElement>('script[data-site][src*="embed"]');
  for (const s of tags) mount(s);
}

run();
