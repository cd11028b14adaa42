/** Sites change rarely and are read on every request and job: cache them briefly per process. */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema';
import { TtlCache } from '../lib/ttl-cache';
import { findSite, type SiteRecord } from '../repositories/sites';

export interface SiteCache {
  get(id: string): Promise<SiteRecord | undefined>;
  /** The site if this process holds it now, without a query; undefined when not held or unknown. */
  peek(id: string): SiteRecord | undefined;
  invalidate(id: string): void;
}

export function createSiteCache(db: Kysely<Database>, ttlMs: number): SiteCache {
  const cache = new TtlCache<string, SiteRecord | null>(ttlMs, 10_000);
  return {
    async get(id) {
      const v = await cache.getOrLoad(id, async () => (await findSite(db, id)) ?? null);
      return v ?? undefined;
    },
    peek: (id) => cache.get(id) ?? undefined,
    invalidate: (id) => cache.delete(id),
  };
}
