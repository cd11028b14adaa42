/** The moderator session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS, path-scoped. */
import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Config } from '../config';

/** `__Host-` cookies are refused by browsers unless Secure, host-only and Path=/; used when we can. */
const SECURE_NAME = '__Host-parley_session';
const PLAIN_NAME = 'parley_session';

export const CSRF_HEADER = 'x-csrf-token';

export function isSecureRequest(c: Context, config: Pick<Config, 'COOKIE_SECURE'>): boolean {
  if (config.COOKIE_SECURE === 'always') return true;
  if (config.COOKIE_SECURE === 'never') return false;
  const proto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim();
  return new URL(c.req.url).protocol === 'https:' || proto === 'https';
}

export function readSessionCookie(c: Context): string | undefined {
  return getCookie(c, SECURE_NAME) ?? getCookie(c, PLAIN_NAME);
}

export function writeSessionCookie(
  c: Context,
  config: Pick<Config, 'COOKIE_SECURE'>,
  token: string,
  expiresAt: Date,
): void {
  const secure = isSecureRequest(c, config);
  // Strict: the moderation UI is never entered from another site's link with a state change.
  setCookie(c, secure ? SECURE_NAME : PLAIN_NAME, token, {
    httpOnly: true,
    secure,
    sameSite: 'Strict',
    path: '/',
    expires: expiresAt,
  });
}

export function clearSessionCookie(c: Context): void {
  deleteCookie(c, SECURE_NAME, { path: '/', secure: true });
  deleteCookie(c, PLAIN_NAME, { path: '/' });
}
