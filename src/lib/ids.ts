/** Identifiers: time-ordered UUIDs for rows, short random ids for sites, opaque secrets for tokens. */
import { randomBytes, randomFillSync } from 'node:crypto';

let lastMs = 0;
let seq = 0;

// Randomness drawn from the system in 4 KB refills instead of two small calls per id: at
// thousands of ids a second the per-call overhead (and the buffers it allocates) was measurable.
const pool = Buffer.alloc(4096);
let poolAt = pool.length;
function randomSlice(n: number): number {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += n;
  return at;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const id = new Uint8Array(16);

/**
 * UUID version 7 (RFC 9562): the first 48 bits are the Unix time in ms, so ids sort by creation
 * time and index inserts stay append-mostly. A 12-bit counter keeps ids from one process monotonic
 * within a millisecond.
 */
export function uuidv7(now = Date.now()): string {
  if (now <= lastMs) {
    seq = (seq + 1) & 0xfff;
    if (seq === 0) lastMs += 1;
    now = lastMs;
  } else {
    lastMs = now;
    const at = randomSlice(2);
    seq = ((pool[at]! << 8) | pool[at + 1]!) & 0x7ff;
  }
  // 48-bit time, big-endian (above 2^32, so no bitwise operators on the whole value).
  const hi = Math.floor(now / 0x100000000);
  const lo = now >>> 0;
  id[0] = (hi >>> 8) & 0xff;
  id[1] = hi & 0xff;
  id[2] = lo >>> 24;
  id[3] = (lo >>> 16) & 0xff;
  id[4] = (lo >>> 8) & 0xff;
  id[5] = lo & 0xff;
  id[6] = 0x70 | (seq >> 8);
  id[7] = seq & 0xff;
  const at = randomSlice(8);
  for (let i = 0; i < 8; i++) id[8 + i] = pool[at + i]!;
  id[8] = 0x80 | (id[8]! & 0x3f);
  let h = '';
  for (let i = 0; i < 16; i++) {
    h += HEX[id[i]!];
    if (i === 3 || i === 5 || i === 7 || i === 9) h += '-';
  }
  return h;
}

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export function randomId(prefix: string, length = 12): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % 32];
  return `${prefix}_${out}`;
}

export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
