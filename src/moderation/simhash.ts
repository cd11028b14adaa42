/**
 * Near-duplicate fingerprints: a 64-bit SimHash over word 3-shingles of the normalised text.
 * Copies that differ by a few words (a changed link, an added greeting) differ in a few bits.
 *
 * How the worker looks up near-duplicates (not done here: rules do no I/O):
 *  - store `simhash(body)` with each comment as a signed bigint column (`fingerprintToSigned`), plus
 *    its four 16-bit bands (`simhashBands`) as four small-int columns, indexed;
 *  - for a new comment, select comments of the same site within the window whose any band equals
 *    the new comment's band (pigeonhole: within 3 differing bits at least one band is identical),
 *    then keep those with `hammingDistance(a, b) <= NEAR_DUPLICATE_BITS`;
 *  - pass their ids as `ctx.history.duplicates`.
 */
import { mix32, tokenTexts } from './features';

/** Fingerprints at most this many bits apart count as the same text. */
export const NEAR_DUPLICATE_BITS = 3;
/** Bodies with fewer words than this are not fingerprinted: "Thanks!" is said by everyone. */
export const MIN_WORDS = 6;

/** 64-bit SimHash as a bigint, or null when the body is too short to fingerprint fairly. */
export function simhash(body: string): bigint | null {
  const words = tokenTexts(body);
  if (words.length < MIN_WORDS) return null;
  // A bit's vote is +1 per shingle with the bit set and -1 otherwise, so its sum is positive exactly
  // when more than half the shingles set it: counting set bits alone gives the same fingerprint.
  // They are counted eight lanes at a time, one byte per bit, and emptied before a byte can overflow.
  const ones = new Int32Array(64);
  lanes.fill(0);
  let shingles = 0;
  let pending = 0;
  for (let i = 0; i + 3 <= words.length; i++) {
    shingleHashes(words[i]!, words[i + 1]!, words[i + 2]!);
    const lo = mix32(pair[0]!);
    const hi = mix32(pair[1]!);
    for (let k = 0; k < 8; k++) {
      lanes[k]! += (lo >>> k) & 0x01010101;
      lanes[k + 8]! += (hi >>> k) & 0x01010101;
    }
    shingles++;
    if (++pending === 255) {
      drainLanes(ones);
      pending = 0;
    }
  }
  drainLanes(ones);
  // Two 32-bit halves and one BigInt join: 64 BigInt shifts would allocate 128 BigInts.
  let low = 0;
  let high = 0;
  for (let b = 0; b < 32; b++) {
    if (2 * ones[b]! > shingles) low |= 1 << b;
    if (2 * ones[b + 32]! > shingles) high |= 1 << b;
  }
  return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
}

// Byte j of lanes[k] counts bit k + 8j of the low hash; lanes[8 + k] the same for the high hash.
const lanes = new Uint32Array(16);

function drainLanes(ones: Int32Array): void {
  for (let k = 0; k < 8; k++) {
    for (let j = 0; j < 4; j++) {
      ones[k + 8 * j]! += (lanes[k]! >>> (8 * j)) & 0xff;
      ones[32 + k + 8 * j]! += (lanes[k + 8]! >>> (8 * j)) & 0xff;
    }
    lanes[k] = 0;
    lanes[k + 8] = 0;
  }
}

/**
 * FNV-1a of `${a} ${b} ${c}` from the two seeds at once, into `pair`, without building the string
 * (FNV-1a is a left fold over code units). One pass over the characters for both halves: the
 * shingle loop was most of a fingerprint's time (a 254-character body: 17 -> 12.7 µs, same bits).
 */
function shingleHashes(a: string, b: string, c: string): void {
  foldBoth(a, 0x811c9dc5, 0x9747b28c);
  foldBoth(b, Math.imul(pair[0]! ^ 32, FNV_PRIME), Math.imul(pair[1]! ^ 32, FNV_PRIME));
  foldBoth(c, Math.imul(pair[0]! ^ 32, FNV_PRIME), Math.imul(pair[1]! ^ 32, FNV_PRIME));
}

/** Continues both FNV-1a states `x` and `y` over `s`; the results land in `pair`. */
function foldBoth(s: string, x: number, y: number): void {
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    x = Math.imul(x ^ ch, FNV_PRIME);
    y = Math.imul(y ^ ch, FNV_PRIME);
  }
  pair[0] = x;
  pair[1] = y;
}
const FNV_PRIME = 0x01000193;
const pair = new Uint32Array(2);

export function hammingDistance(a: bigint, b: bigint): number {
  let x = a ^ b;
  let n = 0;
  while (x) {
    x &= x - 1n;
    n++;
  }
  return n;
}

/** The four 16-bit bands of a fingerprint, low band first. */
export function simhashBands(h: bigint): [number, number, number, number] {
  return [0, 1, 2, 3].map((i) => Number((h >> BigInt(16 * i)) & 0xffffn)) as [number, number, number, number];
}

/** Postgres bigint is signed: store the fingerprint as its two's-complement signed value. */
export function fingerprintToSigned(h: bigint): bigint {
  return BigInt.asIntN(64, h);
}

export function fingerprintFromSigned(v: bigint | string | number): bigint {
  return BigInt.asUintN(64, BigInt(v));
}
