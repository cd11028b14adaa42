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
import { fnv1a, mix32, tokenize } from './features';

/** Fingerprints at most this many bits apart count as the same text. */
export const NEAR_DUPLICATE_BITS = 3;
/** Bodies with fewer words than this are not fingerprinted: "Thanks!" is said by everyone. */
export const MIN_WORDS = 6;

/** 64-bit SimHash as a bigint, or null when the body is too short to fingerprint fairly. */
export function simhash(body: string): bigint | null {
  const words = tokenize(body).map((t) => t.text);
  if (words.length < MIN_WORDS) return null;
  const counts = new Int32Array(64);
  for (let i = 0; i + 3 <= words.length; i++) {
    const shingle = `${words[i]} ${words[i + 1]} ${words[i + 2]}`;
    const lo = mix32(fnv1a(shingle));
    const hi = mix32(fnv1a(shingle, 0x9747b28c));
    for (let b = 0; b < 32; b++) {
      counts[b]! += (lo >>> b) & 1 ? 1 : -1;
      counts[b + 32]! += (hi >>> b) & 1 ? 1 : -1;
    }
  }
  let out = 0n;
  for (let b = 63; b >= 0; b--) out = (out << 1n) | (counts[b]! > 0 ? 1n : 0n);
  return out;
}

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
