import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { randomId, UUID_RE, uuidv7 } from './ids';

describe('uuidv7', () => {
  it('is a version-7 RFC 9562 UUID carrying its millisecond timestamp', () => {
    const now = Date.UTC(2026, 10, 27, 12, 0, 0);
    const id = uuidv7(now);
    expect(id).toMatch(UUID_RE);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(now);
  });

  it('sorts in creation order, even many within one millisecond', () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7(1_800_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('draws fresh randomness for every id, across refills of the random pool', () => {
    const tails = Array.from({ length: 2000 }, (_, i) => uuidv7(1_900_000_000_000 + i * 1000).slice(24));
    expect(new Set(tails).size).toBe(tails.length);
  });

  it('never goes backwards when the clock does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }), {
          minLength: 2,
          maxLength: 50,
        }),
        (times) => {
          const ids = times.map((t) => uuidv7(t));
          for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
        },
      ),
    );
  });
});

describe('randomId', () => {
  it('uses the prefix and an unambiguous alphabet', () => {
    expect(randomId('site')).toMatch(/^site_[0-9a-hjkmnp-tv-z]{12}$/);
  });
});
