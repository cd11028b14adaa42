/** Links are the payload of most comment spam. */
import type { Rule, Span } from '../types';

const URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"']+/giu;

export function findLinks(body: string): Array<Span & { host: string }> {
  const out: Array<Span & { host: string }> = [];
  for (const m of body.matchAll(URL_RE)) {
    const raw = m[0].startsWith('www.') ? `http://${m[0]}` : m[0];
    let host = '';
    try {
      host = new URL(raw).hostname.toLowerCase();
    } catch {
      host = '';
    }
    out.push({ start: m.index, end: m.index + m[0].length, host });
  }
  return out;
}

function matchesDomain(host: string, domains: string[]): boolean {
  return domains.some((d) => {
    const dom = d.toLowerCase().replace(/^\*?\./, '');
    return host === dom || host.endsWith(`.${dom}`);
  });
}

export const links: Rule = {
  id: 'links',
  run: (c, ctx) => {
    const found = findLinks(c.body);
    if (!found.length) return null;
    const { blockedDomains, allowedDomains, maxLinks, holdAnyLink } = ctx.policy.links;
    const blocked = found.filter((l) => matchesDomain(l.host, blockedDomains));
    if (blocked.length) {
      return {
        rule: 'links',
        category: 'links',
        score: 1,
        code: 'blocked_domain',
        message: `The comment links to a blocked domain (${blocked[0]?.host}).`,
        action: 'reject',
        spans: blocked.map(({ start, end }) => ({ start, end })),
      };
    }
    const unknown = found.filter((l) => !matchesDomain(l.host, allowedDomains));
    if (unknown.length > maxLinks || (holdAnyLink && unknown.length > 0)) {
      return {
        rule: 'links',
        category: 'links',
        score: 0.7,
        code: holdAnyLink ? 'link' : 'too_many_links',
        message: holdAnyLink
          ? 'The comment contains a link, and this site holds links for review.'
          : `The comment has ${unknown.length} links (more than ${maxLinks}).`,
        action: 'hold',
        spans: unknown.map(({ start, end }) => ({ start, end })),
      };
    }
    return null;
  },
};
