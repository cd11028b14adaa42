/** Who is calling: API tokens (Bearer) today; the workspace adds session cookies. */
import type { MiddlewareHandler } from 'hono';
import type { AppDeps, AppEnv, Principal } from '../deps';
import { findSession } from '../repositories/sessions';
import { findActiveToken } from '../repositories/tokens';
import { rolesOf } from '../repositories/users';
import { safeEqual } from './crypto';
import { AppError } from './errors';
import { CSRF_HEADER, readSessionCookie } from './session-cookie';

export type PrincipalResolver = (
  c: Parameters<MiddlewareHandler<AppEnv>>[0],
) => Promise<Principal | undefined>;

export function bearerResolver(deps: Pick<AppDeps, 'db'>): PrincipalResolver {
  return async (c) => {
    const auth = c.req.header('authorization');
    const m = auth?.match(/^Bearer\s+(\S+)$/i);
    if (!m?.[1]) return undefined;
    const t = await findActiveToken(deps.db, m[1]);
    if (!t) return undefined;
    return { kind: 'token', id: t.id, sites: { [t.site_id]: t.role }, actorId: `token:${t.id}` };
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The moderation UI's session cookie. Every state-changing request made with the cookie must also
 * carry the session's CSRF token in a header (synchronizer token): a page on another site can
 * make the browser send the cookie but cannot read the token. Bearer-token callers never reach
 * this resolver's check because the bearer resolver answers first.
 */
export function sessionResolver(deps: Pick<AppDeps, 'db' | 'now'>): PrincipalResolver {
  return async (c) => {
    const token = readSessionCookie(c);
    if (!token || token.length > 200) return undefined;
    const s = await findSession(deps.db, token, deps.now());
    if (!s) return undefined;
    if (!SAFE_METHODS.has(c.req.method)) {
      const sent = c.req.header(CSRF_HEADER) ?? '';
      if (!sent || !safeEqual(sent, s.csrf_token)) {
        throw new AppError(403, 'csrf_failed', 'Missing or wrong CSRF token; reload the page and try again');
      }
    }
    return {
      kind: 'session',
      id: s.id,
      sites: await rolesOf(deps.db, s.user_id),
      actorId: `user:${s.user_id}`,
    };
  };
}

/**
 * The role a principal holds on a site. Own entries only: a site id such as `constructor` or
 * `__proto__` (valid ids) must not find what every object inherits.
 */
export function roleOn(
  principal: Pick<Principal, 'sites'>,
  siteId: string,
): 'admin' | 'moderator' | undefined {
  return Object.hasOwn(principal.sites, siteId) ? principal.sites[siteId] : undefined;
}

/**
 * Requires a principal with at least `role` on the site in the path. A site the caller has no
 * access to answers 404, exactly like a site that does not exist, so ids cannot be probed.
 */
export function requireRole(
  resolvers: PrincipalResolver[],
  role: 'moderator' | 'admin',
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let principal: Principal | undefined;
    for (const r of resolvers) {
      principal = await r(c);
      if (principal) break;
    }
    if (!principal) throw new AppError(401, 'unauthorized', 'Sign in or send a valid API token');
    const siteId = c.req.param('siteId');
    if (siteId) {
      const held = roleOn(principal, siteId);
      if (!held) throw AppError.notFound('Site');
      if (role === 'admin' && held !== 'admin')
        throw new AppError(403, 'forbidden', 'This needs an admin of this site');
    }
    c.set('principal', principal);
    return next();
  };
}

/**
 * Every way a caller can prove who they are, tried in order. Features that add a way (session
 * cookies for the moderation UI) add it here, so every protected route accepts all of them.
 */
export function principalResolvers(deps: Pick<AppDeps, 'db' | 'now'>): PrincipalResolver[] {
  return [bearerResolver(deps), sessionResolver(deps)];
}
