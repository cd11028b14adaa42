import { describe, expect, it } from 'vitest';
import { comment, ctx } from '../test-helpers';
import { findLinks, links } from './links';

const codes = (r: unknown) => (Array.isArray(r) ? r.map((v: { code: string }) => v.code) : r);

describe('links', () => {
  it('finds scheme, www and bare-domain links with offsets', () => {
    expect(findLinks('see https://a.example/x and www.b.org or freecodes.com/x')).toEqual([
      { start: 4, end: 23, host: 'a.example' },
      { start: 28, end: 37, host: 'www.b.org' },
      { start: 41, end: 56, host: 'freecodes.com' },
    ]);
  });
  it('rejects a blocked domain, subdomains included', () => {
    expect(
      links.run(comment('buy at http://shop.spam.biz/now'), ctx({ links: { blockedDomains: ['spam.biz'] } })),
    ).toMatchObject({ code: 'blocked_domain', action: 'reject', spans: [{ start: 7, end: 31 }] });
  });
  it('matches a listed domain and its subdomains only, however it is written', () => {
    const blocked = (body: string, blockedDomains: string[]) =>
      links.run(comment(body), ctx({ links: { blockedDomains } }));
    expect(blocked('at http://notspam.biz/now', ['spam.biz'])).toEqual([]);
    expect(blocked('at http://a.spam.biz/now', ['*.spam.biz'])).toMatchObject({ code: 'blocked_domain' });
    expect(blocked('at http://Shop.SPAM.biz/now', ['Spam.Biz'])).toMatchObject({ code: 'blocked_domain' });
    // An allowed domain does not let a look-alike through.
    const many = 'see http://evilx.example and http://y.example or http://z.example';
    expect(codes(links.run(comment(many), ctx({ links: { allowedDomains: ['x.example'] } })))).toEqual([
      'too_many_links',
    ]);
  });
  it('rejects a blocked domain even when it is also allowed', () => {
    const policy = { links: { blockedDomains: ['spam.biz'], allowedDomains: ['spam.biz'] } };
    expect(links.run(comment('at http://spam.biz/now'), ctx(policy))).toMatchObject({
      code: 'blocked_domain',
    });
  });
  it('holds shorteners and link-only comments', () => {
    expect(codes(links.run(comment('http://bit.ly/abc'), ctx()))).toEqual(['shortener', 'link_only']);
  });
  it('lets a site switch off the shortener and link-only holds, and counts a word as two letters or more', () => {
    expect(
      codes(
        links.run(
          comment('http://bit.ly/abc'),
          ctx({ links: { holdShorteners: false, holdLinkOnly: false } }),
        ),
      ),
    ).toEqual([]);
    expect(codes(links.run(comment('a http://x.example b'), ctx()))).toEqual(['link_only']);
    expect(codes(links.run(comment('ok http://x.example'), ctx()))).toEqual([]);
  });
  it('holds more links than allowed but not allowed domains', () => {
    const body = 'see http://x.example and http://y.example or http://z.example';
    expect(codes(links.run(comment(body), ctx()))).toEqual(['too_many_links']);
    expect(codes(links.run(comment(body), ctx({ links: { allowedDomains: ['x.example'] } })))).toEqual([]);
  });
  it('says nothing about a comment with one ordinary link', () => {
    expect(links.run(comment('The report is at https://gov.example/report.pdf'), ctx())).toEqual([]);
    expect(links.run(comment('no links here'), ctx())).toBeNull();
  });
});
