import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JITTER, MAX_RETRY_AFTER_MS, nextDelayMs, parseRetryAfter, RETRY_SCHEDULE_MS } from './schedule';

describe('the retry schedule', () => {
  it('is Svix-like: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then gives up', () => {
    const mid = () => 0.5;
    expect(Array.from({ length: 9 }, (_, i) => nextDelayMs(i, { random: mid }))).toEqual([
      0,
      5_000,
      300_000,
      1_800_000,
      7_200_000,
      18_000_000,
      36_000_000,
      36_000_000,
      undefined,
    ]);
  });

  it('keeps jitter within ±10 % of every step', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: RETRY_SCHEDULE_MS.length - 1 }),
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        (n, r) => {
          const base = RETRY_SCHEDULE_MS[n]!;
          const d = nextDelayMs(n, { random: () => r })!;
          expect(d).toBeGreaterThanOrEqual(Math.floor(base * (1 - JITTER)));
          expect(d).toBeLessThanOrEqual(Math.ceil(base * (1 + JITTER)));
        },
      ),
    );
  });

  it('lets a longer Retry-After win, never a shorter one, and caps it', () => {
    expect(nextDelayMs(1, { random: () => 0.5, retryAfterMs: 120_000 })).toBe(120_000);
    expect(nextDelayMs(2, { random: () => 0.5, retryAfterMs: 1_000 })).toBe(300_000);
    expect(nextDelayMs(1, { random: () => 0.5, retryAfterMs: 10 * MAX_RETRY_AFTER_MS })).toBe(
      MAX_RETRY_AFTER_MS,
    );
  });

  it('reads Retry-After as seconds or an HTTP date, and ignores junk', () => {
    const now = Date.parse('2026-11-27T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Fri, 27 Nov 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Thu, 26 Nov 2026 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});
