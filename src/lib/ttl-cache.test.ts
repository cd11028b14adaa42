import { describe, expect, it } from 'vitest';
import { TtlCache } from './ttl-cache';

/** A cache on a hand-moved clock, and a loader that counts its calls and answers when told. */
function setup(ttlMs = 1000, refreshAheadMs?: number) {
  let now = 0;
  const cache = new TtlCache<string, string | null>(ttlMs, 100, () => now, refreshAheadMs);
  const calls: Array<{ key: string; settle: (v: string | null) => void; fail: (e: Error) => void }> = [];
  const load = (key: string) => () =>
    new Promise<string | null>((settle, fail) => {
      calls.push({ key, settle, fail });
    });
  const tick = () => new Promise((r) => setImmediate(r));
  return {
    cache,
    calls,
    load,
    tick,
    at: (ms: number) => {
      now = ms;
    },
  };
}

describe('TtlCache', () => {
  it('shares one load between callers that miss at the same time', async () => {
    const { cache, calls, load } = setup();
    const a = cache.getOrLoad('k', load('k'));
    const b = cache.getOrLoad('k', load('k'));
    expect(calls).toHaveLength(1);
    calls[0]!.settle('v1');
    expect(await a).toBe('v1');
    expect(await b).toBe('v1');
    expect(cache.get('k')).toBe('v1');
  });

  it('serves an entry until its TTL and not after', async () => {
    const { cache, at } = setup(1000);
    cache.set('k', 'v');
    at(999);
    expect(cache.get('k')).toBe('v');
    at(1000);
    expect(cache.get('k')).toBeUndefined();
  });

  it('before the last fifth of the TTL, a read starts no load', async () => {
    const { cache, calls, load, at } = setup(1000);
    cache.set('k', 'v1');
    at(799);
    expect(cache.peek('k', load('k'))).toBe('v1');
    expect(await cache.getOrLoad('k', load('k'))).toBe('v1');
    expect(calls).toHaveLength(0);
  });

  it('in the last fifth of the TTL, a read answers at once and reloads once in the background', async () => {
    const { cache, calls, load, at, tick } = setup(1000);
    cache.set('k', 'v1');
    at(801);
    expect(cache.peek('k', load('k'))).toBe('v1');
    expect(await cache.getOrLoad('k', load('k'))).toBe('v1');
    expect(cache.peek('k', load('k'))).toBe('v1');
    expect(calls).toHaveLength(1);
    calls[0]!.settle('v2');
    await tick();
    expect(cache.get('k')).toBe('v2');
    // The new value's TTL counts from its load, not from the old one's.
    at(1700);
    expect(cache.get('k')).toBe('v2');
    at(1801);
    expect(cache.get('k')).toBeUndefined();
  });

  it('never serves an entry past its TTL while its refresh is still out', async () => {
    const { cache, calls, load, at } = setup(1000);
    cache.set('k', 'v1');
    at(900);
    cache.peek('k', load('k'));
    at(1000);
    expect(cache.peek('k', load('k'))).toBeUndefined();
    // A foreground caller joins the refresh already out instead of starting another.
    const waiting = cache.getOrLoad('k', load('k'));
    expect(calls).toHaveLength(1);
    calls[0]!.settle('v2');
    expect(await waiting).toBe('v2');
  });

  it('a failed background refresh leaves the entry to expire, and the next load reports', async () => {
    const { cache, calls, load, at, tick } = setup(1000);
    cache.set('k', 'v1');
    at(900);
    expect(cache.peek('k', load('k'))).toBe('v1');
    calls[0]!.fail(new Error('database down'));
    await tick();
    expect(cache.get('k')).toBe('v1');
    at(1000);
    const next = cache.getOrLoad('k', load('k'));
    calls[1]!.fail(new Error('still down'));
    await expect(next).rejects.toThrow('still down');
  });

  it('a refresh that finds nothing drops the entry', async () => {
    const { cache, calls, load, at, tick } = setup(1000);
    cache.set('k', 'v1');
    at(900);
    cache.peek('k', load('k'));
    calls[0]!.settle(null);
    await tick();
    expect(cache.get('k')).toBeUndefined();
  });

  it('delete disowns a load already out, so what it read before the change is not kept', async () => {
    const { cache, calls, load, at, tick } = setup(1000);
    cache.set('k', 'old');
    at(900);
    cache.peek('k', load('k'));
    cache.delete('k');
    calls[0]!.settle('read before the change');
    await tick();
    expect(cache.get('k')).toBeUndefined();
    const fresh = cache.getOrLoad('k', load('k'));
    expect(calls).toHaveLength(2);
    calls[1]!.settle('new');
    expect(await fresh).toBe('new');
    expect(cache.get('k')).toBe('new');
  });

  it('refreshAhead reloads the keys due, together, and drops those the load did not find', async () => {
    const { cache, at, tick } = setup(1000);
    cache.set('a', 'a1');
    cache.set('b', 'b1');
    at(500);
    cache.set('c', 'c1');
    at(850);
    const batches: string[][] = [];
    let answer: (m: Map<string, string | null>) => void = () => {};
    const loadMany = (due: Array<[string, string | null]>) => {
      batches.push(due.map(([k]) => k));
      return new Promise<Map<string, string | null>>((r) => {
        answer = r;
      });
    };
    cache.refreshAhead(['a', 'b', 'c', 'missing'], loadMany);
    // Already out: not asked for again.
    cache.refreshAhead(['a', 'b'], loadMany);
    expect(batches).toEqual([['a', 'b']]);
    expect(cache.get('a')).toBe('a1');
    answer(new Map([['a', 'a2']]));
    await tick();
    expect(cache.get('a')).toBe('a2');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toBe('c1');
  });

  it('keeps at most maxEntries, dropping the least recently loaded', () => {
    const cache = new TtlCache<string, number>(1000, 2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 3);
    cache.set('c', 4);
    expect(cache.get('a')).toBe(3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('c')).toBe(4);
  });
});
