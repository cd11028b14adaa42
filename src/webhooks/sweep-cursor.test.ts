import { describe, expect, it } from 'vitest';
import { createSweepCursor } from './sweep-cursor';

const AGE = 30_000;

describe('createSweepCursor', () => {
  it('starts where it is told (or unknown) and settles a note once a pass runs ageMs after it', () => {
    const c = createSweepCursor(AGE, '100');
    expect(c.from).toBe('100');
    c.passed({ at: 0, top: '500', full: false });
    // Too soon: rows up to 500 may still be younger than the age the sweep takes.
    c.passed({ at: 29_999, top: '900', full: false });
    expect(c.from).toBe('100');
    c.passed({ at: 30_000, top: '1200', full: false });
    expect(c.from).toBe('500');
    c.passed({ at: 60_000, top: '1300', full: false });
    expect(c.from).toBe('1200');
    expect(createSweepCursor(AGE).from).toBeNull();
  });

  it('settles nothing after a pass cut short by its limit, and catches up after a complete one', () => {
    const c = createSweepCursor(AGE, '0');
    c.passed({ at: 0, top: '10', full: false });
    c.passed({ at: 40_000, top: '20', full: true });
    expect(c.from).toBe('0');
    c.passed({ at: 80_000, top: '30', full: true });
    expect(c.from).toBe('0');
    c.passed({ at: 120_000, top: '40', full: false });
    // Every note at least 30 s old is settled at once: the newest of them is the new start.
    expect(c.from).toBe('30');
  });

  it('never moves back, compares ids as numbers, and keeps a bounded number of notes', () => {
    const c = createSweepCursor(AGE, '9007199254740993');
    c.passed({ at: 0, top: '900', full: false });
    c.passed({ at: 30_000, top: '9007199254740999', full: false });
    expect(c.from).toBe('9007199254740993');
    c.passed({ at: 60_000, top: '9007199254741000', full: false });
    expect(c.from).toBe('9007199254740999');

    const busy = createSweepCursor(AGE, '0');
    for (let i = 0; i < 1000; i++) busy.passed({ at: i * 1000, top: String(i + 1), full: true });
    busy.passed({ at: 2_000_000, top: '5000', full: false });
    // The oldest notes were dropped, not settled wrongly: the newest settled one is the last note.
    expect(busy.from).toBe('1000');
  });
});
