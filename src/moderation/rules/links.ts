/** Links are the payload of most comment spam: count, shorteners, link-only bodies, site domain lists. */
import type { Rule, Span, Verdict } from '../types';

// Scheme or www. links, and bare domains with a common spam TLD ("freepsn.com/codes").
const URL_RE =
  /\b(?:https?:\/\/|www\.)[^\s<>"']+|(?<![@\w.-])(?:[a-z0-9-]+\.)+(?:com|net|org|info|biz|ly|gl|io|co|me|tk|ru|xyz|top|online|site)\b(?:\/[^\s<>"']*)?/giu;

/**
 * Well-known URL shorteners: they hide the destination from the reader and from domain lists.
 * Not t.co: Twitter wraps every link in it, so it says nothing about the poster's intent.
 */
export const SHORTENERS: ReadonlySet<string> = new Set([
  'bit.ly',
  'bitly.com',
  'goo.gl',
  'tinyurl.com',
  'ow.ly',
  'is.gd',
  'buff.ly',
  'adf.ly',
  'shorte.st',
  'cutt.ly',
  'rebrand.ly',
  'tiny.cc',
  'bl.ink',
  'rb.gy',
  'shorturl.at',
  'v.gd',
  'lnkd.in',
  'soo.gd',
  's.id',
]);

export function findLinks(body: string): Array<Span & { host: string }> {
  const out: Array<Span & { host: string }> = [];
  for (const m of body.matchAll(URL_RE)) {
    const raw = /^https?:\/\//i.test(m[0]) ? m[0] : `http://${m[0]}`;
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

export function matchesDomain(host: string, domains: readonly string[]): boolean {
  return domains.some((d) => {
    const dom = d.toLowerCase().replace(/^\*?\./, '');
    return host === dom || host.endsWith(`.${dom}`);
  });
}

const spansOf = (list: Span[]): Span[] => list.map(({ start, end }) => ({ start, end }));

export const links: Rule = {
  id: 'links',
  run: (c, ctx) => {
    const found = findLinks(c.body);
    if (!found.length) return null;
    const p = ctx.policy.links;
    const base = { rule: 'links', category: 'links' } as const;
    const blocked = found.filter((l) => matchesDomain(l.host, p.blockedDomains));
    if (blocked.length) {
      return {
        ...base,
        score: 1,
        code: 'blocked_domain',
        message: `The comment links to a blocked domain (${blocked[0]?.host}).`,
        action: 'reject',
        spans: spansOf(blocked),
      };
    }
    const unknown = found.filter((l) => !matchesDomain(l.host, p.allowedDomains));
    if (!unknown.length) return null;
    const verdicts: Verdict[] = [];
    const short = unknown.filter((l) => SHORTENERS.has(l.host));
    if (p.holdShorteners && short.length) {
      verdicts.push({
        ...base,
        score: 0.8,
        code: 'shortener',
        message: `The comment links through a URL shortener (${short[0]?.host}) that hides where it goes.`,
        action: 'hold',
        spans: spansOf(short),
      });
    }
    // What is left once links and punctuation are removed: nothing means the link is the message.
    let rest = c.body;
    for (const l of [...found].reverse()) rest = rest.slice(0, l.start) + rest.slice(l.end);
    if (p.holdLinkOnly && !/[\p{L}\p{N}]{2,}/u.test(rest)) {
      verdicts.push({
        ...base,
        score: 0.8,
        code: 'link_only',
        message: 'The comment is only a link.',
        action: 'hold',
        spans: spansOf(unknown),
      });
    }
    if (unknown.length > p.maxLinks || p.holdAnyLink) {
      verdicts.push({
        ...base,
        score: 0.7,
        code: p.holdAnyLink ? 'link' : 'too_many_links',
        message: p.holdAnyLink
          ? 'The comment contains a link, and this site holds links for review.'
          : `The comment has ${unknown.length} links (more than ${p.maxLinks}).`,
        action: 'hold',
        spans: spansOf(unknown),
      });
    }
    return verdicts;
  },
};
