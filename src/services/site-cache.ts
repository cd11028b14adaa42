/** Sites change rarely and are read on every request and job: cache them briefly per process. */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema';
import { TtlCache } from '../lib/ttl-cache';
import { findSite, type SiteRecord } from '../repositories/sites';

export interface SiteCache {
  get(id: string): Promise<SiteRecord | undefined>;
  /**
   * The site if this process holds it now, without waiting for a query; undefined when not held or
   * unknown. A site close to expiry is reloaded in the background.
   */
  peek(id: string): SiteRecord | undefined;
  invalidate(id: string): void;
}

export function createSiteCache(db: Kysely<Database>, ttlMs: number): SiteCache {
  const cache = new TtlCache<string, SiteRecord | null>(ttlMs, 10_000);
  const load = (id: string) => async () => (await findSite(db, id)) ?? null;
  return {
    async get(id) {
      const v = await cache.getOrLoad(id, load(id));
      return v ?? undefined;
    },
    // Refreshed ahead of expiry as it is read, so a site in steady use never drops out of the
    // submission and thread fast paths.
    peek: (id) => cache.peek(id, load(id)) ?? undefined,
    invalidate: (id) => cache.delete(id),
  };
}
