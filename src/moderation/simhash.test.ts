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
