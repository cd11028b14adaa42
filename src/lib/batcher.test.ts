import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
