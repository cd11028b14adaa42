import { describe, expect, it } from 'vitest';
import { clientIp, isTrusted } from './client-ip';

describe('clientIp', () => {
  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(clientIp('198.51.100.9', '1.2.3.4', [])).toBe('198.51.100.9');
    expect(clientIp('198.51.100.9', '1.2.3.4', ['10.0.0.0/8'])).toBe('198.51.100.9');
  });

  it('takes the first untrusted hop from the right when the peer is trusted', () => {
    expect(clientIp('10.0.0.2', '203.0.113.5, 10.0.0.3', ['10.0.0.0/8'])).toBe('203.0.113.5');
    // A client-supplied left-most value cannot win over the hop our proxy saw.
    expect(clientIp('10.0.0.2', 'spoofed, 1.1.1.1, 203.0.113.5', ['10.0.0.0/8'])).toBe('203.0.113.5');
  });

  it('normalises IPv4-mapped IPv6 and matches IPv6 ranges', () => {
    expect(clientIp('::ffff:198.51.100.9', undefined, [])).toBe('198.51.100.9');
    expect(isTrusted('fd00::1', ['fd00::/8'])).toBe(true);
    expect(isTrusted('fe80::1', ['fd00::/8'])).toBe(false);
    expect(isTrusted('127.0.0.1', ['127.0.0.1'])).toBe(true);
  });
});
