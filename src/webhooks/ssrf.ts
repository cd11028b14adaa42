/**
 * The SSRF guard: publisher-supplied webhook URLs must never reach Parley's own network. Checked at
 * registration (the URL and what its name resolves to) and again at connect time on every address
 * the resolver returns, so DNS rebinding between the two checks gains nothing.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

export interface GuardPolicy {
  /** Loopback receivers (tests, local development). Off by default; private ranges stay refused. */
  allowLoopback: boolean;
  /** Plain http. Refused in production. */
  allowHttp: boolean;
}

export type BlockReason =
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'carrier_grade_nat'
  | 'multicast'
  | 'reserved'
  | 'unspecified'
  | 'documentation'
  | 'invalid';

export type AddressDecision = { allowed: true } | { allowed: false; reason: BlockReason };

export class BlockedAddressError extends Error {
  readonly code = 'EWEBHOOKBLOCKED';
  constructor(
    public readonly address: string,
    public readonly reason: BlockReason | 'scheme' | 'credentials' | 'unresolvable' | 'hostname',
  ) {
    super(`webhook target refused: ${address} (${reason})`);
  }
}

type Range = [prefix: number[], bits: number, reason: BlockReason];

const V4: Range[] = [
  [[0, 0, 0, 0], 8, 'unspecified'],
  [[10, 0, 0, 0], 8, 'private'],
  [[100, 64, 0, 0], 10, 'carrier_grade_nat'],
  [[127, 0, 0, 0], 8, 'loopback'],
  // 169.254.169.254 (cloud metadata) lives here.
  [[169, 254, 0, 0], 16, 'link_local'],
  [[172, 16, 0, 0], 12, 'private'],
  [[192, 0, 0, 0], 24, 'reserved'],
  [[192, 0, 2, 0], 24, 'documentation'],
  [[192, 88, 99, 0], 24, 'reserved'],
  [[192, 168, 0, 0], 16, 'private'],
  [[198, 18, 0, 0], 15, 'reserved'],
  [[198, 51, 100, 0], 24, 'documentation'],
  [[203, 0, 113, 0], 24, 'documentation'],
  [[224, 0, 0, 0], 4, 'multicast'],
  [[240, 0, 0, 0], 4, 'reserved'],
];

const h = (x: number) => [x >> 8, x & 0xff];
const V6: Range[] = [
  [[...h(0x0100)], 64, 'reserved'], // discard-only 100::/64
  [[...h(0x2001), 0x00], 23, 'reserved'], // IETF protocol assignments, including Teredo 2001::/32
  [[...h(0x2001), ...h(0x0db8)], 32, 'documentation'],
  [[0xfc], 7, 'private'], // unique local fc00::/7 (includes AWS's fd00:ec2::254)
  [[0xfe, 0x80], 10, 'link_local'],
  [[0xfe, 0xc0], 10, 'private'], // deprecated site-local
  [[0xff], 8, 'multicast'],
  [[...h(0x0064), ...h(0xff9b), ...h(0x0001)], 48, 'private'], // local-use NAT64
];

function inRange(bytes: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if (((bytes[byte] ?? 0) & mask) !== ((prefix[byte] ?? 0) & mask)) return false;
  }
  return true;
}

function parseV4(s: string): number[] | undefined {
  // Only dotted-quad decimal reaches here: URL parsing and resolvers normalise 127.1, 0x7f.1 and
  // 2130706433; anything else that is not canonical is refused as invalid by the caller.
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : undefined;
}

function parseV6(input: string): number[] | undefined {
  let s = input.replace(/^\[|\]$/g, '');
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (isIP(s) !== 6) return undefined;
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseV4(last);
    if (!v4) return undefined;
    tail = v4;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = s.includes('::') ? s.split('::') : [s, undefined];
  const hs = head ? head.split(':') : [];
  const rs = rest ? rest.split(':') : [];
  const groups =
    rest === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - rs.length).fill('0'), ...rs];
  if (groups.length !== 8) return undefined;
  const bytes = groups.flatMap((g) => h(Number.parseInt(g || '0', 16)));
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function decideV4(b: number[], policy: Pick<GuardPolicy, 'allowLoopback'>): AddressDecision {
  if (b.every((x) => x === 255)) return { allowed: false, reason: 'multicast' };
  for (const [prefix, bits, reason] of V4) {
    if (inRange(b, prefix, bits)) {
      if (reason === 'loopback' && policy.allowLoopback) return { allowed: true };
      return { allowed: false, reason };
    }
  }
  return { allowed: true };
}

/**
 * Whether an IP address (v4 or v6, any spelling a resolver or URL parser produces) may be
 * connected to. IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged
 * by that IPv4 address.
 */
export function checkAddress(address: string, policy: Pick<GuardPolicy, 'allowLoopback'>): AddressDecision {
  const v4 = parseV4(address);
  if (v4) return decideV4(v4, policy);
  const v6 = parseV6(address);
  if (!v6) return { allowed: false, reason: 'invalid' };
  const zeros = (n: number) => v6.slice(0, n).every((x) => x === 0);
  if (zeros(16)) return { allowed: false, reason: 'unspecified' };
  if (zeros(15) && v6[15] === 1) {
    return policy.allowLoopback ? { allowed: true } : { allowed: false, reason: 'loopback' };
  }
  // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64)
  if (zeros(10) && v6[10] === 0xff && v6[11] === 0xff) return decideV4(v6.slice(12), policy);
  if (zeros(12)) return decideV4(v6.slice(12), policy);
  if (inRange(v6, [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96)) return decideV4(v6.slice(12), policy);
  // 6to4: 2002:AABB:CCDD::/48 routes to a.b.c.d
  if (v6[0] === 0x20 && v6[1] === 0x02) {
    const d = decideV4(v6.slice(2, 6), { allowLoopback: false });
    if (!d.allowed) return d;
  }
  for (const [prefix, bits, reason] of V6) {
    if (inRange(v6, prefix, bits)) return { allowed: false, reason };
  }
  return { allowed: true };
}

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
      if (err) reject(err);
      else resolve(addresses);
    });
  });

export interface ParsedTarget {
  url: URL;
  /** Hostname without IPv6 brackets. */
  host: string;
  /** Set when the host is an IP literal: Node's http skips `lookup` for those, so it is checked here. */
  ip?: string;
}

/** Checks the URL's shape: scheme, no credentials, and an IP literal host against the ranges. */
export function checkUrl(raw: string, policy: GuardPolicy): ParsedTarget {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new BlockedAddressError(raw, 'invalid');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    throw new BlockedAddressError(url.protocol, 'scheme');
  }
  if (url.username || url.password) throw new BlockedAddressError(url.host, 'credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) throw new BlockedAddressError(raw, 'invalid');
  if (isIP(host)) {
    const d = checkAddress(host, policy);
    if (!d.allowed) throw new BlockedAddressError(host, d.reason);
    return { url, host, ip: host };
  }
  // Names that are loopback by definition (RFC 6761) never go to DNS.
  const lower = host.toLowerCase().replace(/\.$/, '');
  if ((lower === 'localhost' || lower.endsWith('.localhost')) && !policy.allowLoopback) {
    throw new BlockedAddressError(host, 'loopback');
  }
  if (!lower.includes('.') && lower !== 'localhost') throw new BlockedAddressError(host, 'hostname');
  return { url, host };
}

/** Resolves a name and refuses it if any address it resolves to is refused. */
export async function resolveChecked(
  host: string,
  policy: Pick<GuardPolicy, 'allowLoopback'>,
  resolver: Resolver,
): Promise<LookupAddress[]> {
  let addresses: LookupAddress[];
  try {
    addresses = await resolver(host);
  } catch {
    throw new BlockedAddressError(host, 'unresolvable');
  }
  if (!addresses.length) throw new BlockedAddressError(host, 'unresolvable');
  for (const a of addresses) {
    const d = checkAddress(a.address, policy);
    if (!d.allowed) throw new BlockedAddressError(`${host} -> ${a.address}`, d.reason);
  }
  return addresses;
}

/** Registration-time check: the URL's shape, then what its name resolves to now. */
export async function checkTarget(
  raw: string,
  policy: GuardPolicy,
  resolver: Resolver = systemResolver,
): Promise<ParsedTarget> {
  const t = checkUrl(raw, policy);
  if (!t.ip) await resolveChecked(t.host, policy, resolver);
  return t;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http.request / net.connect that refuses the connection unless every resolved
 * address passes the guard. The socket then connects to an address that was checked, not to
 * whatever a second resolution would return.
 */
export function guardedLookup(
  policy: Pick<GuardPolicy, 'allowLoopback'>,
  resolver: Resolver = systemResolver,
) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number | string } | number,
    cb: LookupCallback,
  ) => {
    const opts = typeof options === 'number' ? { family: options } : (options ?? {});
    resolveChecked(hostname, policy, resolver).then(
      (addresses) => {
        const fam = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : Number(opts.family) || 0;
        const usable = fam ? addresses.filter((a) => a.family === fam) : addresses;
        if (!usable.length) {
          const err = Object.assign(new Error(`no IPv${fam} address for ${hostname}`), { code: 'ENOTFOUND' });
          cb(err, '', 0);
          return;
        }
        if (opts.all) cb(null, usable);
        else cb(null, usable[0]!.address, usable[0]!.family);
      },
      (err: Error) =>
        cb(Object.assign(err, { code: (err as { code?: string }).code ?? 'EWEBHOOKBLOCKED' }), '', 0),
    );
  };
}
