/**
 * Comment counts for `<span data-parley-count data-article="ID"></span>` anywhere on a page:
 * one request per site for up to 50 articles at a time, kept current while the page is open.
 */
import type { Api } from './api';

const BATCH = 50;

/**
 * Dispatched on `document` by the widget when the reader's own comment is published, with
 * `detail: { site, article, id }`; count tags of that site refresh at once instead of at the next poll.
 */
export const PUBLISHED_EVENT = 'parley:published';

export interface PublishedDetail {
  site: string;
  article: string;
  id: string;
}

/** A script tag's `data-poll` (seconds, default 20, `0` for off) in milliseconds. */
export function pollMsOf(attr: string | undefined): number {
  return attr === undefined ? 20_000 : Math.max(Number(attr) || 0, 0) * 1000;
}

/**
 * Fills the page's count tags for `api.site` now, then every `pollMs` while the document is visible
 * (never while it is hidden; at once when it is shown again), and when the reader's own comment is
 * published. Polls are conditional requests, so an unchanged count costs a 304. A tag is claimed
 * by the first script that sees it, so embed.js and count.js on one page never both poll it.
 */
export function watchCounts(api: Api, pollMs: number): void {
  let mine: HTMLElement[] = [];
  let busy = false;
  let again = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const refresh = async (): Promise<void> => {
    // One request at a time; a trigger during it (a publish) runs once more after it, so an
    // answer sent before the publish cannot be the last word.
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    clearTimeout(timer);
    for (const el of document.querySelectorAll<HTMLElement>('[data-parley-count][data-article]')) {
      if ((el.dataset.site ?? api.site) !== api.site || el.dataset.parleyDone) continue;
      el.dataset.parleyDone = '1';
      mine.push(el);
    }
    mine = mine.filter((el) => el.isConnected); // tags a page removed (an infinite list) are let go
    const ids = [...new Set(mine.map((el) => el.dataset.article!))];
    for (let i = 0; i < ids.length; i += BATCH) {
      let counts: Record<string, number>;
      try {
        counts = (await api.counts(ids.slice(i, i + BATCH))).counts;
      } catch {
        continue; // counts are decoration: leave what is shown (the publisher's fallback text at first)
      }
      for (const el of mine) {
        const n = counts[el.dataset.article!];
        if (n === undefined) continue;
        // data-parley-count="number" shows only the digits; otherwise "3 comments". The tag is not
        // a live region and is written only when the count changed, so polls are not announced.
        const text = el.dataset.parleyCount === 'number' ? String(n) : `${n} comment${n === 1 ? '' : 's'}`;
        if (el.textContent !== text) el.textContent = text;
      }
    }
    busy = false;
    if (again) {
      again = false;
      return refresh();
    }
    if (pollMs > 0 && document.visibilityState === 'visible') timer = setTimeout(refresh, pollMs);
  };

  void refresh();
  if (pollMs > 0) {
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') void refresh();
      else clearTimeout(timer);
    });
  }
  document.addEventListener(PUBLISHED_EVENT, (e) => {
    if ((e as CustomEvent<PublishedDetail>).detail?.site === api.site) void refresh();
  });
}
