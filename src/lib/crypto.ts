/** Keyed hashes for personal data and signed tokens; the key lives outside the database. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export function hmac(secret: string, purpose: string, value: string): string {
  return createHmac('sha256', secret).update(purpose).update('\0').update(value).digest('base64url');
}

/**
 * The same reader posts from the same address with the same email again and again, and an HMAC
 * costs several microseconds: recent results are kept in memory (bounded; never written anywhere).
 */
const recent = new Map<string, string>();
const RECENT_MAX = 20_000;
function cachedHmac(secret: string, purpose: string, value: string): string {
  const key = `${purpose}\0${value}\0${secret}`;
  let h = recent.get(key);
  if (h === undefined) {
    h = hmac(secret, purpose, value);
    if (recent.size >= RECENT_MAX) recent.delete(recent.keys().next().value as string);
    recent.set(key, h);
  }
  return h;
}

/** Pseudonymous IP: lets rules count per address without storing the address. */
export function hashIp(secret: string, ip: string): string {
  return cachedHmac(secret, 'ip', ip.trim().toLowerCase());
}

export function hashEmail(secret: string, email: string): string {
  return cachedHmac(secret, 'email', email.trim().toLowerCase());
}

/** API tokens are 256-bit random, so a fast unsalted hash is enough to make a leaked table useless. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export type FormTokenCheck = { state: 'missing' } | { state: 'invalid' } | { state: 'ok'; ageMs: number };

/**
 * Form tokens prove when the form was rendered, so rules can tell a human (seconds to minutes)
 * from a bot that posts the instant it loads the page. `issuedAt.signature`, bound to the site.
 */
export function issueFormToken(secret: string, siteId: string, nowMs: number): string {
  return `${nowMs.toString(36)}.${hmac(secret, 'form', `${siteId}.${nowMs}`).slice(0, 22)}`;
}

export function checkFormToken(
  secret: string,
  siteId: string,
  token: string | undefined,
  nowMs: number,
): FormTokenCheck {
  if (!token) return { state: 'missing' };
  const [ts, sig] = token.split('.');
  if (!ts || !sig || !/^[0-9a-z]{1,12}$/.test(ts)) return { state: 'invalid' };
  const issued = Number.parseInt(ts, 36);
  if (!Number.isSafeInteger(issued)) return { state: 'invalid' };
  const expected = hmac(secret, 'form', `${siteId}.${issued}`).slice(0, 22);
  if (!safeEqual(expected, sig)) return { state: 'invalid' };
  return { state: 'ok', ageMs: nowMs - issued };
}

/**
 * Proof that the caller wrote a comment, without accounts and without storing anything: the
 * comment's id signed under its own purpose label. Only the author's browser ever receives it (in
 * the 202 of the submission), so it is also what lets them delete the comment later. Deterministic,
 * so an idempotent replay of the submission hands back the same token.
 */
export function authorToken(secret: string, commentId: string): string {
  return hmac(secret, 'author', commentId);
}

export function checkAuthorToken(secret: string, commentId: string, token: string | undefined): boolean {
  return typeof token === 'string' && safeEqual(authorToken(secret, commentId), token);
}
