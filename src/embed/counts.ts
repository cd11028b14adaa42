/**
 * Comment counts for `<span data-parley-count data-article="ID"></span>` anywhere on a page:
 * one request per site for up to 50 articles at a time.
 */
import type { Api } from './api';

const BATCH = 50;

export async function fillCounts(api: Api): Promise<void> {
  const els = [...document.querySelectorAll<HTMLElement>('[data-parley-count][data-article]')].filter(
    (el) => (el.dataset.site ?? api.site) === api.site && !el.dataset.parleyDone,
  );
  const ids = [...new Set(els.map((el) => el.dataset.article!))];
  for (let i = 0; i < ids.length; i += BATCH) {
    let counts: Record<string, number>;
    try {
      counts = (await api.counts(ids.slice(i, i + BATCH))).counts;
    } catch {
      continue; // counts are decoration: leave the publisher's fallback text in place
    }
    for (const el of els) {
      const n = counts[el.dataset.article!];
      if (n === undefined) continue;
      el.dataset.parleyDone = '1';
      // data-parley-count="number" shows only the digits; otherwise "3 comments".
      el.textContent = el.dataset.parleyCount === 'number' ? String(n) : `${n} comment${n === 1 ? '' : 's'}`;
    }
  }
}
