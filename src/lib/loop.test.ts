import { describe, expect, it } from 'vitest';
import { settlesWithin, startLoop } from './loop';

describe('settlesWithin', () => {
  it('is true for work that resolves or rejects in time, and for no work', async () => {
    expect(await settlesWithin(Promise.resolve(1), 100)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('failed')), 100)).toBe(true);
    expect(await settlesWithin(new Promise((r) => setTimeout(r, 10)), 1_000)).toBe(true);
    expect(await settlesWithin(undefined, 0)).toBe(true);
  });

  it('gives up on work that never settles, after the time given', async () => {
    const started = Date.now();
    expect(await settlesWithin(new Promise(() => {}), 50)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(await settlesWithin(new Promise(() => {}), 0)).toBe(false);
  });

  it("bounds the stop of a loop whose pass is stuck, which startLoop's stop alone would wait on for ever", async () => {
    let entered!: () => void;
    const inPass = new Promise<void>((r) => {
      entered = r;
    });
    const loop = startLoop(
      () => {
        entered();
        return new Promise(() => {});
      },
      1,
      () => {},
    );
    await inPass;
    expect(await settlesWithin(loop.stop(), 50)).toBe(false);
  });
});
