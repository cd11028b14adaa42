/** Mounts the policy API under /api/v1/admin/sites/{siteId}/policy: admins only. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { principalResolvers, requireRole } from '../../lib/auth';
import { policyHandlers } from './policy.handlers';
import { getPolicy, listVersions, savePolicy, whatIf } from './policy.routes';

export function mountPolicy(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  // JSON-only bodies are enforced for every /api/v1/admin path by mountAdmin.
  const admin = requireRole(principalResolvers(deps), 'admin');
  app.use('/api/v1/admin/sites/:siteId/policy', admin);
  app.use('/api/v1/admin/sites/:siteId/policy/*', admin);
  const h = policyHandlers(deps);
  app.openapi(getPolicy, h.get);
  app.openapi(listVersions, h.versions);
  app.openapi(savePolicy, h.save);
  app.openapi(whatIf, h.whatIf);
}
