/** Who is calling: API tokens (Bearer) today; the workspace adds session cookies. */
import type { MiddlewareHandler } from 'hono';
import type { AppDeps, AppEnv, Principal } from '../deps';
import { findActiveToken } from '../repositories/tokens';
import { AppError } from './errors';

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
      const held = principal.sites[siteId];
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
export function principalResolvers(deps: Pick<AppDeps, 'db'>): PrincipalResolver[] {
  return [bearerResolver(deps)];
}
