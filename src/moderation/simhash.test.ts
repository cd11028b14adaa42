import { describe, expect, it } from 'vitest';
import { duplicates } from './rules/duplicates';
import {
  fingerprintFromSigned,
  fingerprintToSigned,
  hammingDistance,
  NEAR_DUPLICATE_BITS,
  simhash,
  simhashBands,
} from './simhash';
import { comment, ctx } from './test-helpers';

const spam = 'Hey guys check out my new channel and please subscribe, I make great music videos every week';

describe('simhash', () => {
  it('is close for a copy with a small edit and far for a different text', () => {
    const a = simhash(spam)!;
    const b = simhash(`${spam} thanks`)!;
    const c = simhash(
      'The council approved the budget after a long debate about the new bridge and the schools',
    )!;
    expect(hammingDistance(a, b)).toBeLessThanOrEqual(NEAR_DUPLICATE_BITS + 5);
    expect(hammingDistance(a, c)).toBeGreaterThan(16);
  });
  it('ignores case and spacing, and skips bodies too short to fingerprint', () => {
    expect(simhash(spam.toUpperCase().replace(/ /g, '  '))).toBe(simhash(spam));
    expect(simhash('Thanks!')).toBeNull();
  });
  it('gives the fingerprints already stored for these texts', () => {
    // Stored rows are compared with new ones, so a change to the hashing (even one that is as good)
    // would hide every copy of a comment posted before the upgrade. These were computed before the
    // shingle loop hashed both halves in one pass.
    expect(simhash(spam)?.toString(16)).toBe('3173f51ea4d1629b');
    expect(
      simhash(
        'Café prices in Zürich went up again – naïve tourists pay €9 for an espresso, says the owner’s son',
      )?.toString(16),
    ).toBe('340f8f810423b0b1');
    expect(
      simhash(
        'Read the full story at https://example.com/news/2026/budget?ref=home and tell @editor what you think',
      )?.toString(16),
    ).toBe('50340808d0210419');
  });
  it('round-trips through a signed bigint column and splits into four bands', () => {
    const h = simhash(spam)!;
    expect(fingerprintFromSigned(fingerprintToSigned(h).toString())).toBe(h);
    const bands = simhashBands(h);
    expect(bands.reduce((acc, b, i) => acc | (BigInt(b) << BigInt(16 * i)), 0n)).toBe(h);
  });
});

describe('duplicates rule', () => {
  it('holds a comment with a near-duplicate on the site and rejects a copy run', () => {
    expect(duplicates.run(comment(spam), ctx({}, { history: { duplicates: ['c7'] } }))).toMatchObject({
      category: 'spam',
      code: 'duplicate',
      action: 'hold',
    });
    expect(
      duplicates.run(comment(spam), ctx({}, { history: { duplicates: ['1', '2', '3', '4', '5'] } })),
    ).toMatchObject({ code: 'duplicate_run', action: 'reject' });
    expect(duplicates.run(comment(spam), ctx({}, { history: { duplicates: [] } }))).toBeNull();
  });
});
