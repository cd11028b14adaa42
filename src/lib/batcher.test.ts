import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBatcher } from './batcher';

/** A handler that records each batch and lets the test decide when it finishes. */
function gated<I>(answer: (items: I[]) => Array<unknown>) {
  const batches: I[][] = [];
  const gates: Array<() => void> = [];
  const handler = async (items: I[]) => {
    batches.push(items);
    await new Promise<void>((r) => gates.push(r));
    return answer(items) as Array<I | Error>;
  };
  const openAll = async () => {
    // Let freshly started batches register their gate first.
    for (let i = 0; i < 10; i++) await Promise.resolve();
    for (const g of gates.splice(0)) g();
  };
  return { handler, batches, openAll };
}

describe('createBatcher', () => {
  it('sends calls made in the same tick as one batch, and an idle call at once', async () => {
    const seen: number[][] = [];
    const submit = createBatcher<number, number>(
      async (items) => {
        seen.push(items);
        return items.map((x) => x * 2);
      },
      { maxBatch: 100, maxInFlight: 1 },
    );
    const results = await Promise.all([1, 2, 3, 4].map(submit));
    expect(results).toEqual([2, 4, 6, 8]);
    expect(seen).toEqual([[1, 2, 3, 4]]);
    expect(await submit(5)).toBe(10);
    expect(seen).toHaveLength(2);
  });

  it('queues calls behind a batch in flight and sends them together in the next one', async () => {
    const g = gated<number>((items) => items);
    const submit = createBatcher<number, number>(g.handler, { maxBatch: 100, maxInFlight: 1 });
    const first = submit(0);
    await Promise.resolve();
    await Promise.resolve();
    const rest = [1, 2, 3].map(submit);
    expect(g.batches).toEqual([[0]]);
    await g.openAll();
    expect(await first).toBe(0);
    await g.openAll();
    expect(await Promise.all(rest)).toEqual([1, 2, 3]);
    expect(g.batches).toEqual([[0], [1, 2, 3]]);
  });

  it('never exceeds maxBatch items per batch nor maxInFlight batches at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const sizes: number[] = [];
    const submit = createBatcher<number, number>(
      async (items) => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        sizes.push(items.length);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        return items;
      },
      { maxBatch: 7, maxInFlight: 3 },
    );
    const out = await Promise.all(Array.from({ length: 100 }, (_, i) => submit(i)));
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
    expect(peak).toBeLessThanOrEqual(3);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(100);
  });

  it('rejects only the item whose slot is an Error; its batch-mates still resolve', async () => {
    const submit = createBatcher<number, string>(
      async (items) => items.map((x) => (x % 3 === 0 ? new Error(`bad ${x}`) : `ok ${x}`)),
      { maxBatch: 100, maxInFlight: 1 },
    );
    const settled = await Promise.allSettled([1, 2, 3, 4, 6].map(submit));
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
    ]);
    expect((settled[2] as PromiseRejectedResult).reason.message).toBe('bad 3');
  });

  it('rejects every item of a batch whose handler throws, and keeps serving later calls', async () => {
    let fail = true;
    const submit = createBatcher<number, number>(
      async (items) => {
        if (fail) throw new Error('database down');
        return items;
      },
      { maxBatch: 100, maxInFlight: 1 },
    );
    const settled = await Promise.allSettled([1, 2].map(submit));
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
    fail = false;
    expect(await submit(3)).toBe(3);
  });

  it('rejects items the handler forgot to answer instead of resolving them with undefined', async () => {
    const submit = createBatcher<number, number>(async (items) => items.slice(0, 1), {
      maxBatch: 100,
      maxInFlight: 1,
    });
    const settled = await Promise.allSettled([1, 2].map(submit));
    expect(settled[0]).toEqual({ status: 'fulfilled', value: 1 });
    expect(settled[1]?.status).toBe('rejected');
  });

  it('answers every caller with its own result, whatever the batch limits and arrival pattern', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 60 }),
        async (maxBatch, maxInFlight, gaps) => {
          const submit = createBatcher<number, string>(
            async (items) => {
              await new Promise((r) => setTimeout(r, 0));
              return items.map((x) => (x % 5 === 0 ? new Error(String(x)) : `v${x}`));
            },
            { maxBatch, maxInFlight },
          );
          const calls: Promise<string>[] = [];
          for (let i = 0; i < gaps.length; i++) {
            calls.push(submit(i));
            for (let k = 0; k < (gaps[i] ?? 0); k++) await Promise.resolve();
          }
          const settled = await Promise.allSettled(calls);
          settled.forEach((s, i) => {
            if (i % 5 === 0) expect(s).toMatchObject({ status: 'rejected' });
            else expect(s).toEqual({ status: 'fulfilled', value: `v${i}` });
          });
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('createBatcher with a linger', () => {
  const linger = { ms: 10, below: 4 };
  // performance.now() is faked too: the batcher times its linger with it.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A handler that answers at once and records each batch with the fake time it started. */
  function recording() {
    const batches: Array<{ at: number; items: number[] }> = [];
    const handler = async (items: number[]) => {
      batches.push({ at: performance.now(), items });
      return items;
    };
    return { handler, batches };
  }

  it('sends a lone call on a quiet batcher at once', async () => {
    const r = recording();
    const submit = createBatcher(r.handler, { maxBatch: 100, maxInFlight: 1, linger });
    const start = performance.now();
    const first = submit(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(r.batches).toEqual([{ at: start, items: [1] }]);
    await first;
    // Long after the last call, the next one is lone again.
    await vi.advanceTimersByTimeAsync(50);
    const second = submit(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(r.batches.map((b) => b.items)).toEqual([[1], [2]]);
    expect(await second).toBe(2);
  });

  it('holds a small batch while calls keep coming, until its first call is linger.ms old', async () => {
    const r = recording();
    const submit = createBatcher(r.handler, { maxBatch: 100, maxInFlight: 1, linger });
    const start = performance.now();
    const calls = [submit(1)];
    await vi.advanceTimersByTimeAsync(2);
    calls.push(submit(2)); // 2 ms after the last call: part of a stream, so it waits
    await vi.advanceTimersByTimeAsync(5);
    calls.push(submit(3));
    await vi.advanceTimersByTimeAsync(4);
    expect(r.batches.map((b) => b.items)).toEqual([[1]]);
    await vi.advanceTimersByTimeAsync(1);
    expect(r.batches).toEqual([
      { at: start, items: [1] },
      { at: start + 12, items: [2, 3] },
    ]);
    expect(await Promise.all(calls)).toEqual([1, 2, 3]);
  });

  it('sends a held batch as soon as it reaches linger.below', async () => {
    const r = recording();
    const submit = createBatcher(r.handler, { maxBatch: 100, maxInFlight: 1, linger });
    const start = performance.now();
    const calls = [submit(0)];
    await vi.advanceTimersByTimeAsync(1);
    calls.push(submit(1), submit(2));
    await vi.advanceTimersByTimeAsync(1);
    expect(r.batches).toHaveLength(1);
    calls.push(submit(3), submit(4), submit(5)); // the fourth waiting call fills it
    await vi.advanceTimersByTimeAsync(0);
    expect(r.batches).toEqual([
      { at: start, items: [0] },
      { at: start + 2, items: [1, 2, 3, 4, 5] },
    ]);
    await Promise.all(calls);
  });

  it('does not hold a batch again once its first call has waited linger.ms behind one in flight', async () => {
    const g = gated<number>((items) => items);
    const submit = createBatcher<number, number>(g.handler, { maxBatch: 100, maxInFlight: 1, linger });
    const first = submit(0);
    await vi.advanceTimersByTimeAsync(1);
    const second = submit(1); // streaming, queued behind the batch in flight
    await vi.advanceTimersByTimeAsync(15);
    expect(g.batches).toEqual([[0]]);
    await g.openAll();
    await first;
    await vi.advanceTimersByTimeAsync(0);
    expect(g.batches).toEqual([[0], [1]]);
    await g.openAll();
    expect(await second).toBe(1);
  });

  it('answers every caller, never holds a call past linger.ms while it could start, and keeps the limits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 8 })), {
          minLength: 1,
          maxLength: 40,
        }),
        async (maxBatch, maxInFlight, below, steps) => {
          const sizes: number[] = [];
          let inFlight = 0;
          let peak = 0;
          /** For each call: when it was made, and when its batch started. */
          const made = new Map<number, number>();
          const started = new Map<number, number>();
          const submit = createBatcher<number, string>(
            async (items) => {
              inFlight++;
              peak = Math.max(peak, inFlight);
              sizes.push(items.length);
              for (const i of items) started.set(i, performance.now());
              await new Promise((r) => setTimeout(r, 3));
              inFlight--;
              return items.map((x) => `v${x}`);
            },
            { maxBatch, maxInFlight, linger: { ms: 10, below } },
          );
          const calls: Promise<string>[] = [];
          let n = 0;
          for (const [gap, burst] of steps) {
            await vi.advanceTimersByTimeAsync(gap);
            for (let k = 0; k < burst; k++) {
              made.set(n, performance.now());
              calls.push(submit(n++));
            }
          }
          await vi.advanceTimersByTimeAsync(1000);
          const out = await Promise.all(calls);
          expect(out).toEqual(Array.from({ length: n }, (_, i) => `v${i}`));
          expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(maxBatch);
          expect(peak).toBeLessThanOrEqual(maxInFlight);
          // When every call fits one batch, a call waits for the linger (from its batch's first
          // call, which came no later) or for a batch in flight (3 ms), whichever is longer; a
          // timer may fire up to a millisecond late.
          if (maxBatch >= n) {
            for (let i = 0; i < n; i++) {
              expect(started.get(i)! - made.get(i)!).toBeLessThanOrEqual(10 + 1);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
