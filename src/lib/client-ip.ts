/**
 * The client's address. Proxy headers are believed only when the direct peer is a configured
 * trusted proxy; otherwise anyone could spoof X-Forwarded-For to dodge rate limits (remark42's bug).
 */
import { isIP } from 'node:net';

function normalise(ip: string): string {
  const v = ip.trim().replace(/^\[|\]$/g, '');
  return v.startsWith('::ffff:') && isIP(v.slice(7)) === 4 ? v.slice(7) : v;
}

function inCidr(ip: string, cidr: string): boolean {
  const [range, bitsRaw] = cidr.split('/');
  if (!range) return false;
  if (bitsRaw === undefined) return normalise(range) === ip;
  const bits = Number(bitsRaw);
  const a = toBigInt(ip);
  const b = toBigInt(normalise(range));
  if (a === null || b === null || a.width !== b.width) return false;
  const shift = BigInt(a.width - bits);
  return a.value >> shift === b.value >> shift;
}

function toBigInt(ip: string): { value: bigint; width: number } | null {
  const kind = isIP(ip);
  if (kind === 4) {
    return { value: ip.split('.').reduce((acc, o) => (acc << 8n) + BigInt(Number(o)), 0n), width: 32 };
  }
  if (kind === 6) {
    const [head = '', tail = ''] = ip.split('::');
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
    return {
      value: groups.reduce((acc, g) => (acc << 16n) + BigInt(Number.parseInt(g || '0', 16)), 0n),
      width: 128,
    };
  }
  return null;
}

export function isTrusted(ip: string, trusted: string[]): boolean {
  return trusted.some((t) => inCidr(ip, t));
}

/** Walks X-Forwarded-For from the right, skipping trusted proxies; the first other hop is the client. */
export function clientIp(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trusted: string[],
): string | undefined {
  if (!peer) return undefined;
  let ip = normalise(peer);
  if (!forwardedFor || !isTrusted(ip, trusted)) return ip;
  const hops = forwardedFor
    .split(',')
    .map(normalise)
    .filter((h) => isIP(h));
  while (hops.length) {
    ip = hops.pop()!;
    if (!isTrusted(ip, trusted)) return ip;
  }
  return ip;
}
