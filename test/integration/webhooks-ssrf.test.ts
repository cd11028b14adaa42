/**
 * The SSRF guard. Private and public ranges are checked through the guard's own decisions (the
 * address check, and the connect-time lookup fed by a stubbed resolver); real connections are only
 * ever pointed at loopback spellings, with the loopback setting off, and a sentinel listener on
 * 127.0.0.1 must see none of them.
 */
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendDelivery } from '../../src/webhooks/client';
import { createEndpointWithSecret } from '../../src/webhooks/service';
import {
  BlockedAddressError,
  checkAddress,
  checkTarget,
  checkUrl,
  guardedLookup,
  type Resolver,
  systemResolver,
} from '../../src/webhooks/ssrf';
import { createTestContext, type TestContext, waitFor } from '../helpers/context';
import { type Receiver, startReceiver } from './webhooks-helpers';

const OFF = { allowLoopback: false, allowHttp: true };
const ON = { allowLoopback: true, allowHttp: true };

const BLOCKED: Array<[string, string]> = [
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.1.2.3', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'],
  ['100.64.0.1', 'carrier_grade_nat'],
  ['100.127.255.255', 'carrier_grade_nat'],
  ['100.100.100.200', 'carrier_grade_nat'], // Alibaba Cloud metadata
  ['169.254.169.254', 'link_local'], // AWS, GCP, Azure metadata
  ['169.254.0.1', 'link_local'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['255.255.255.255', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'documentation'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['::', 'unspecified'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:a9fe:a9fe', 'link_local'],
  ['::127.0.0.1', 'loopback'],
  ['64:ff9b::7f00:1', 'loopback'],
  ['64:ff9b::a9fe:a9fe', 'link_local'],
  ['64:ff9b:1::1', 'private'],
  ['2002:7f00:1::1', 'loopback'],
  ['2002:a9fe:a9fe::1', 'link_local'],
  ['fc00::1', 'private'],
  ['fd00:ec2::254', 'private'], // AWS IPv6 metadata
  ['fe80::1', 'link_local'],
  ['fe80::1%eth0', 'link_local'],
  ['febf:ffff::1', 'link_local'],
  ['fec0::1', 'private'],
  ['ff02::1', 'multicast'],
  ['2001:db8::1', 'documentation'],
  ['2001::1', 'reserved'], // Teredo
  ['100::1', 'reserved'],
  ['not-an-ip', 'invalid'],
  ['1.2.3', 'invalid'],
  ['256.1.1.1', 'invalid'],
];

const PUBLIC = [
  '8.8.8.8',
  '1.1.1.1',
  '93.184.216.34',
  '172.15.255.255',
  '172.32.0.0',
  '100.63.255.255',
  '100.128.0.0',
  '169.253.255.255',
  '223.255.255.255',
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
  '2a00:1450:4001:81b::200e',
  '::ffff:8.8.8.8',
  '2002:808:808::1',
];

describe('the address check', () => {
  it.each(BLOCKED)('refuses %s (%s)', (address, reason) => {
    expect(checkAddress(address, OFF)).toEqual({ allowed: false, reason });
  });

  it.each(PUBLIC)('allows public %s', (address) => {
    expect(checkAddress(address, OFF)).toEqual({ allowed: true });
  });

  it('lets loopback through only with the setting on, and nothing else private', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1']) {
      expect(checkAddress(a, ON), a).toEqual({ allowed: true });
      expect(checkAddress(a, OFF).allowed, a).toBe(false);
    }
    for (const a of ['10.0.0.1', '169.254.169.254', '192.168.0.1', 'fc00::1', 'fe80::1', '0.0.0.0', '::']) {
      expect(checkAddress(a, ON).allowed, a).toBe(false);
    }
  });
});

describe('the URL check', () => {
  const spellings = [
    'http://127.0.0.1/',
    'http://127.1/',
    'http://0x7f.1/',
    'http://0x7f000001/',
    'http://2130706433/',
    'http://0177.0.0.1/',
    'http://017700000001/',
    'http://[::1]/',
    'http://[0:0:0:0:0:0:0:1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[::ffff:7f00:1]/',
    'http://localhost/',
    'http://LOCALHOST./',
    'http://api.localhost/',
    'http://169.254.169.254/latest/meta-data/',
    'http://0xa9fea9fe/',
    'http://[fd00:ec2::254]/',
    'http://[fe80::1]/',
    'http://10.0.0.1:8080/',
    'http://100.64.0.1/',
    'http://0/',
    'http://[::]/',
  ];
  it.each(spellings)('refuses %s', (url) => {
    expect(() => checkUrl(url, OFF)).toThrow(BlockedAddressError);
  });

  it('accepts loopback spellings with the setting on, but never private ones', () => {
    for (const url of [
      'http://127.1/',
      'http://0x7f.1/',
      'http://2130706433/',
      'http://[::1]/',
      'http://localhost/',
    ]) {
      expect(() => checkUrl(url, ON), url).not.toThrow();
    }
    for (const url of ['http://10.0.0.1/', 'http://169.254.169.254/', 'http://[fe80::1]/']) {
      expect(() => checkUrl(url, ON), url).toThrow(BlockedAddressError);
    }
  });

  it('refuses http in production, other schemes, credentials and single-label names', () => {
    const prod = { allowLoopback: false, allowHttp: false };
    expect(() => checkUrl('http://example.com/hook', prod)).toThrow(/scheme/);
    expect(() => checkUrl('https://example.com/hook', prod)).not.toThrow();
    expect(() => checkUrl('ftp://example.com/', OFF)).toThrow(/scheme/);
    expect(() => checkUrl('file:///etc/passwd', OFF)).toThrow(/scheme/);
    expect(() => checkUrl('https://user:pw@example.com/', OFF)).toThrow(/credentials/);
    expect(() => checkUrl('https://intranet/', OFF)).toThrow(/hostname/);
    expect(() => checkUrl('not a url', OFF)).toThrow(BlockedAddressError);
  });
});

function stub(map: Record<string, string[]>): Resolver {
  return async (host) => {
    const list = map[host];
    if (!list) throw Object.assign(new Error(`stub: no ${host}`), { code: 'ENOTFOUND' });
    return list.map<LookupAddress>((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

describe('names and the connect-time lookup (stubbed resolver, no connections)', () => {
  const resolver = stub({
    'public.example': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'private.example': ['10.0.0.5'],
    'mixed.example': ['93.184.216.34', '127.0.0.1'],
    'metadata.example': ['169.254.169.254'],
    'v6private.example': ['fd12::1'],
    'mapped.example': ['::ffff:192.168.0.1'],
    'loop.example': ['127.0.0.1'],
  });

  it('refuses at registration a name that resolves to any refused address', async () => {
    await expect(checkTarget('https://public.example/hook', OFF, resolver)).resolves.toBeTruthy();
    for (const host of [
      'private.example',
      'mixed.example',
      'metadata.example',
      'v6private.example',
      'mapped.example',
      'loop.example',
    ]) {
      await expect(checkTarget(`https://${host}/hook`, OFF, resolver), host).rejects.toThrow(
        BlockedAddressError,
      );
    }
    await expect(checkTarget('https://nowhere.example/', OFF, resolver)).rejects.toThrow(/unresolvable/);
    await expect(checkTarget('https://loop.example/', ON, resolver)).resolves.toBeTruthy();
  });

  function lookup(host: string, options: { all?: boolean; family?: number }) {
    return new Promise<{ err: (Error & { code?: string }) | null; address: unknown; family?: number }>(
      (resolve) => {
        guardedLookup(OFF, resolver)(host, options, (err, address, family) =>
          resolve({ err, address, family }),
        );
      },
    );
  }

  it('hands the socket only checked addresses, in both lookup shapes', async () => {
    const all = await lookup('public.example', { all: true });
    expect(all.err).toBeNull();
    expect(all.address).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 },
    ]);
    const one = await lookup('public.example', { family: 4 });
    expect(one).toMatchObject({ err: null, address: '93.184.216.34', family: 4 });
    const v6 = await lookup('public.example', { family: 6 });
    expect(v6).toMatchObject({ err: null, address: '2606:2800:220:1:248:1893:25c8:1946', family: 6 });
  });

  it('fails the connection when any resolved address is refused (DNS rebinding)', async () => {
    for (const host of [
      'private.example',
      'mixed.example',
      'metadata.example',
      'v6private.example',
      'mapped.example',
      'loop.example',
    ]) {
      const r = await lookup(host, { all: true });
      expect(r.err?.code, host).toBe('EWEBHOOKBLOCKED');
      expect(r.err).toBeInstanceOf(BlockedAddressError);
    }
  });
});

describe('real connections to loopback spellings with the setting off', () => {
  let sentinel: Receiver;
  let sentinel6: Receiver | undefined;
  beforeAll(async () => {
    sentinel = await startReceiver('127.0.0.1');
    try {
      sentinel6 = await startReceiver('::1');
    } catch {
      sentinel6 = undefined; // no IPv6 loopback here: the [::1] spellings are still refused, see below
    }
  });
  afterAll(async () => {
    await sentinel?.close();
    await sentinel6?.close();
  });

  it('never reaches the sentinel, then reaches it once the setting is on', async () => {
    const p = sentinel.port;
    const p6 = sentinel6?.port ?? p;
    const resolver: Resolver = async (host) =>
      host === 'rebind.example' ? [{ address: '127.0.0.1', family: 4 }] : systemResolver(host);
    const urls = [
      `http://127.0.0.1:${p}/`,
      `http://127.1:${p}/`,
      `http://0x7f.1:${p}/`,
      `http://0x7f000001:${p}/`,
      `http://2130706433:${p}/`,
      `http://0177.0.0.1:${p}/`,
      `http://127.000.000.001:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
      `http://[::ffff:7f00:1]:${p}/`,
      `http://localhost:${p}/`,
      `http://localhost.:${p}/`,
      `http://rebind.example:${p}/`,
      `http://[::1]:${p6}/`,
      `http://[0:0:0:0:0:0:0:1]:${p6}/`,
    ];
    for (const url of urls) {
      const r = await sendDelivery(
        { url, headers: {}, body: '{}' },
        { policy: OFF, timeoutMs: 1000, resolver },
      );
      expect(r.outcome, url).toBe('blocked');
    }
    expect(sentinel.connections).toBe(0);
    expect(sentinel6?.connections ?? 0).toBe(0);

    // The control: the same sentinel does see a connection when loopback is allowed.
    const ok = await sendDelivery(
      { url: `http://127.1:${p}/`, headers: {}, body: '{}' },
      { policy: ON, timeoutMs: 1000 },
    );
    expect(ok.outcome).toBe('success');
    const ok2 = await sendDelivery(
      { url: `http://rebind.example:${p}/`, headers: {}, body: '{}' },
      { policy: ON, timeoutMs: 1000, resolver },
    );
    expect(ok2.outcome).toBe('success');
    expect(sentinel.connections).toBe(2);
  });
});

describe('with WEBHOOKS_ALLOW_LOOPBACK off (the default)', () => {
  let t: TestContext;
  let sentinel: Receiver;
  beforeAll(async () => {
    sentinel = await startReceiver('127.0.0.1');
    t = await createTestContext({
      workers: true,
      env: { WEBHOOKS_DISPATCH_INTERVAL_MS: '50', WEBHOOKS_TIMEOUT_MS: '1000' },
      workerOptions: {
        webhooks: {
          resolver: async (host) =>
            host === 'rebind.example' ? [{ address: '127.0.0.1', family: 4 }] : systemResolver(host),
        },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await sentinel?.close();
  });

  it('refuses loopback and private URLs at registration with a clear problem', async () => {
    expect(t.config.WEBHOOKS_ALLOW_LOOPBACK).toBe(false);
    const siteId = await t.site();
    const token = await t.token(siteId, 'admin');
    for (const url of [
      `http://127.0.0.1:${sentinel.port}/`,
      `http://0x7f.1:${sentinel.port}/`,
      `http://[::1]:${sentinel.port}/`,
      `http://localhost:${sentinel.port}/`,
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:10.0.0.1]/',
    ]) {
      const res = await t.request(
        'POST',
        `/api/v1/admin/sites/${siteId}/webhooks/endpoints`,
        { url },
        {
          authorization: `Bearer ${token}`,
        },
      );
      expect(res.status, url).toBe(422);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = (await res.json()) as { code: string; reason: string };
      expect(body.code).toBe('url_not_allowed');
    }
    const none = await t.rt.db
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('site_id', '=', siteId)
      .execute();
    expect(none).toHaveLength(0);
    expect(sentinel.connections).toBe(0);
  });

  it('blocks at connect time a registered name that now resolves to loopback', async () => {
    const siteId = await t.site();
    // Registered while it resolved elsewhere; DNS now points it at 127.0.0.1.
    const { endpoint } = await createEndpointWithSecret(t.rt.db, t.config.PARLEY_SECRET, {
      siteId,
      url: `http://rebind.example:${sentinel.port}/hook`,
      description: 'rebinding',
      eventTypes: [],
      enabled: true,
    });
    const token = await t.token(siteId, 'admin');
    const res = await t.request(
      'POST',
      `/api/v1/admin/sites/${siteId}/webhooks/endpoints/${endpoint.id}/test`,
      {},
      { authorization: `Bearer ${token}` },
    );
    expect(res.status).toBe(202);
    const attempt = await waitFor(
      () =>
        t.rt.db
          .selectFrom('webhook_attempts')
          .selectAll()
          .where('endpoint_id', '=', endpoint.id)
          .executeTakeFirst(),
      'an attempt',
    );
    expect(attempt.outcome).toBe('blocked');
    expect(attempt.error).toMatch(/loopback/);
    expect(sentinel.connections).toBe(0);
  });
});
