import { describe, expect, it } from 'vitest';
import {
  authorToken,
  checkAuthorToken,
  checkFormToken,
  hashEmail,
  hashIp,
  hmac,
  issueFormToken,
} from './crypto';

const secret = 'unit-test-secret-0123456789';

describe('keyed hashes', () => {
  it('are stable for one secret, differ across secrets and never contain the input', () => {
    expect(hashIp(secret, '203.0.113.7')).toBe(hashIp(secret, '203.0.113.7'));
    expect(hashIp(secret, '203.0.113.7')).not.toBe(hashIp(`${secret}x`, '203.0.113.7'));
    expect(hashIp(secret, '203.0.113.7')).not.toContain('203');
    expect(hashEmail(secret, ' Ada@Example.com ')).toBe(hashEmail(secret, 'ada@example.com'));
    // Same input, different purpose: an IP hash cannot be matched against an email hash.
    expect(hashIp(secret, 'x')).not.toBe(hashEmail(secret, 'x'));
  });
});

describe('form tokens', () => {
  const issued = 1_800_000_000_000;

  it('prove when the form was shown', () => {
    const token = issueFormToken(secret, 'site_a', issued);
    expect(checkFormToken(secret, 'site_a', token, issued + 4200)).toEqual({ state: 'ok', ageMs: 4200 });
  });

  it('are bound to the site and the secret, and cannot be edited', () => {
    const token = issueFormToken(secret, 'site_a', issued);
    expect(checkFormToken(secret, 'site_b', token, issued).state).toBe('invalid');
    expect(checkFormToken('another-secret-0123456789', 'site_a', token, issued).state).toBe('invalid');
    const [, sig] = token.split('.');
    const older = `${(issued - 3_600_000).toString(36)}.${sig}`;
    expect(checkFormToken(secret, 'site_a', older, issued).state).toBe('invalid');
    expect(checkFormToken(secret, 'site_a', 'garbage', issued).state).toBe('invalid');
    expect(checkFormToken(secret, 'site_a', undefined, issued).state).toBe('missing');
  });
});

describe('author tokens', () => {
  const id = '0190f5a2-7c3e-7b1a-9d4e-2f6a8b0c1d2e';
  const other = '0190f5a2-7c3e-7b1a-9d4e-2f6a8b0c1d2f';

  it('are stable per comment and secret, and prove nothing about another comment', () => {
    const token = authorToken(secret, id);
    expect(authorToken(secret, id)).toBe(token);
    expect(checkAuthorToken(secret, id, token)).toBe(true);
    expect(checkAuthorToken(secret, other, token)).toBe(false);
    expect(checkAuthorToken('another-secret-0123456789', id, token)).toBe(false);
    expect(checkAuthorToken(secret, id, token.slice(1))).toBe(false);
    expect(checkAuthorToken(secret, id, undefined)).toBe(false);
    expect(checkAuthorToken(secret, id, '')).toBe(false);
  });

  it('have a purpose of their own: no other keyed hash of the same id matches', () => {
    expect(authorToken(secret, id)).not.toBe(hmac(secret, 'reader', id));
    expect(authorToken(secret, id)).not.toBe(hashIp(secret, id));
  });
});
