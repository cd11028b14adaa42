/** Mounts the moderator workspace API: JSON-only, every site route behind a site-scoped role check. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { type PrincipalResolver, principalResolvers, requireRole } from '../../lib/auth';
import { jsonBody } from '../../lib/http';
import { moderationHandlers } from './moderation.handlers';
import * as r from './moderation.routes';

export function mountModeration(
  app: OpenAPIHono<AppEnv>,
  deps: AppDeps,
  resolvers: PrincipalResolver[] = principalResolvers(deps),
): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: 'parley_session',
    description: 'The moderation UI session; state changes also need the X-CSRF-Token header',
  });
  app.use('/api/v1/moderation/*', async (c, next) => {
    // Private, per-user answers: never cached by a browser or a proxy.
    await next();
    c.header('Cache-Control', 'no-store');
  });
  const json = jsonBody();
  app.use('/api/v1/moderation/*', async (c, next) => {
    // Actions without a payload (claim, undo) may be sent with no body at all.
    const empty = !c.req.header('content-type') && (c.req.header('content-length') ?? '0') === '0';
    return empty && c.req.method === 'POST' ? next() : json(c, next);
  });
  app.use('/api/v1/moderation/sites/:siteId/*', requireRole(resolvers, 'moderator'));
  const signedIn = requireRole(resolvers, 'moderator');
  app.use('/api/v1/moderation/session', async (c, next) =>
    c.req.method === 'POST' ? next() : signedIn(c, next),
  );

  const h = moderationHandlers(deps);
  app.openapi(r.signIn, h.signIn);
  app.openapi(r.session, h.session);
  app.openapi(r.signOut, h.signOut);
  app.openapi(r.counts, h.counts);
  app.openapi(r.list, h.list);
  app.openapi(r.next, h.next);
  app.openapi(r.item, h.item);
  app.openapi(r.claim, h.claim);
  app.openapi(r.release, h.release);
  app.openapi(r.approve, h.approve);
  app.openapi(r.reject, h.reject);
  app.openapi(r.undo, h.undo);
  app.openapi(r.bulk, h.bulk);
  app.openapi(r.listBans, h.listBans);
  app.openapi(r.createBan, h.createBan);
  app.openapi(r.revokeBan, h.revokeBan);
  app.openapi(r.history, h.history);
}
