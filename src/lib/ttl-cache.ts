/**
 * A small in-process cache with expiry and a size bound; misses share one load.
 *
 * Entries read through a loader are refreshed ahead of expiry: a read in an entry's last
 * `refreshAheadMs` still returns it and starts one load in the background. Without that, every
 * entry set at the same moment (a process's sites and articles, cached by its first requests)
 * expired at the same moment, and the requests of the next few milliseconds all waited for a
 * reload; the API's submission fast path, which needs its site in hand, stepped aside for the
 * slow path until it came back. Under steady load that was a burst of late comments every
 * CACHE_TTL_MS (docs/performance.md, round 26). Nothing is served longer than `ttlMs` after it was
 * loaded, refreshed or not.
 */
export class TtlCache<K, V> {
  private readonly map = new Map<K, { value: V; expires: number }>();
  /** Loads in flight, foreground or background; a token so that delete() can disown one. */
  private readonly loading = new Map<K, { token: object; promise: Promise<V> }>();
  private readonly refreshAheadMs: number;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
    /** Default: the last fifth of the TTL. */
    refreshAheadMs?: number,
  ) {
    this.refreshAheadMs = Math.min(ttlMs, Math.max(0, refreshAheadMs ?? ttlMs / 5));
  }

  get(key: K): V | undefined {
    return this.live(key, this.now())?.value;
  }

  set(key: K, value: V): void {
    if (this.ttlMs <= 0) return;
    if (!this.map.has(key) && this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    // Re-inserted, so the size bound's "oldest" stays the least recently loaded.
    this.map.delete(key);
    this.map.set(key, { value, expires: this.now() + this.ttlMs });
  }

  /** Also disowns a load in flight for `key`: what it read may predate the change being announced. */
  delete(key: K): void {
    this.map.delete(key);
    this.loading.delete(key);
  }

  clear(): void {
    this.map.clear();
    this.loading.clear();
  }

  /**
   * The entry if it has not expired, like get(); if it expires within refreshAheadMs, one load of
   * it starts in the background. Its failure is ignored: the entry then expires as it would have,
   * and the next foreground load reports the error.
   */
  peek(key: K, load: () => Promise<V>): V | undefined {
    const at = this.now();
    const hit = this.live(key, at);
    if (!hit) return undefined;
    if (this.due(key, hit.expires, at)) this.start(key, load).catch(() => {});
    return hit.value;
  }

  /** Returns the cached value or loads it once, however many callers ask at the same time. */
  async getOrLoad(key: K, load: () => Promise<V>): Promise<V> {
    const hit = this.peek(key, load);
    if (hit !== undefined) return hit;
    return this.loading.get(key)?.promise ?? this.start(key, load);
  }

  /**
   * peek() for many keys with one load between them: those of `keys` whose entries expire soon
   * (and are not being loaded already) are handed to `loadMany` together, with their current
   * values. Keys it leaves out of its answer are dropped, as a load that found nothing.
   */
  refreshAhead(keys: Iterable<K>, loadMany: (due: Array<[K, V]>) => Promise<Map<K, V>>): void {
    const due: Array<[K, V]> = [];
    const at = this.now();
    for (const key of keys) {
      const hit = this.live(key, at);
      if (hit && this.due(key, hit.expires, at)) due.push([key, hit.value]);
    }
    if (!due.length) return;
    const all = loadMany(due);
    // Each key gets its own share of the one load, so a delete() disowns only its own key.
    for (const [key] of due) {
      this.start(key, () => all.then((found) => found.get(key) as V)).catch(() => {});
    }
    all.catch(() => {});
  }

  /** The entry if it has not expired at `at`; an expired one is dropped. */
  private live(key: K, at: number): { value: V; expires: number } | undefined {
    const hit = this.map.get(key);
    if (hit && hit.expires <= at) {
      this.map.delete(key);
      return undefined;
    }
    return hit;
  }

  /** An unexpired entry in its last refreshAheadMs, with no load of it out yet. */
  private due(key: K, expires: number, at: number): boolean {
    return expires - at <= this.refreshAheadMs && !this.loading.has(key);
  }

  private start(key: K, load: () => Promise<V>): Promise<V> {
    const token = {};
    const promise = load().then(
      (v) => {
        if (this.loading.get(key)?.token === token) {
          this.loading.delete(key);
          if (v !== undefined && v !== null) this.set(key, v);
          // Found nothing now: what was cached is gone, so it is not served until it expires.
          else this.map.delete(key);
        }
        return v;
      },
      (err: unknown) => {
        if (this.loading.get(key)?.token === token) this.loading.delete(key);
        throw err;
      },
    );
    this.loading.set(key, { token, promise });
    return promise;
  }
}
