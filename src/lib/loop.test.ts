import { describe, expect, it } from 'vitest';
import { keyedKicks, settlesWithin, startLoop } from './loop';

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

describe('keyedKicks', () => {
  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((r) => {
      open = r;
    });
    return { open, opened };
  };

  it('runs one key at a time, folds the kicks made during a run into one more run, and keeps keys apart', async () => {
    const started: string[] = [];
    const gates: ReturnType<typeof gate>[] = [];
    const kicks = keyedKicks(
      async (key) => {
        started.push(key);
        const g = gate();
        gates.push(g);
        await g.opened;
      },
      () => {},
    );
    const first = kicks.kick('a');
    const second = kicks.kick('a');
    const third = kicks.kick('a');
    const other = kicks.kick('b');
    expect(started).toEqual(['a', 'b']);
    gates[0]!.open();
    await new Promise((r) => setTimeout(r, 5));
    // The two kicks made during the first run became one rerun, not two.
    expect(started).toEqual(['a', 'b', 'a']);
    let secondDone = false;
    void second.then(() => {
      secondDone = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(secondDone).toBe(false);
    gates[2]!.open();
    await Promise.all([first, second, third]);
    expect(started).toEqual(['a', 'b', 'a']);
    gates[1]!.open();
    await other;
    await kicks.idle();
    kicks.kick('a');
    expect(started).toEqual(['a', 'b', 'a', 'a']);
    gates[3]!.open();
    await kicks.idle();
  });

  it('reports a failed run to onError, resolves its kick, and runs the key again when kicked', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const kicks = keyedKicks(
      async () => {
        calls++;
        if (calls === 1) throw new Error('lease failed');
      },
      (err) => errors.push(err),
    );
    await kicks.kick('a');
    expect(errors).toHaveLength(1);
    await kicks.kick('a');
    expect(calls).toBe(2);
    expect(errors).toHaveLength(1);
  });
});
