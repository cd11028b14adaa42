/**
 * Mounts the webhook admin API (admins of the site only) and documents every event payload in the
 * OpenAPI document's `webhooks` section.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { principalResolvers, requireRole } from '../../lib/auth';
import { eventSchemas } from '../../webhooks/events';
import type { Resolver } from '../../webhooks/ssrf';
import { webhookHandlers } from './webhooks.handlers';
import { webhookRoutes } from './webhooks.routes';

export function mountWebhooks(
  app: OpenAPIHono<AppEnv>,
  deps: AppDeps,
  opts: { resolver?: Resolver } = {},
): void {
  app.use('/api/v1/admin/sites/:siteId/webhooks/*', requireRole(principalResolvers(deps), 'admin'));
  const h = webhookHandlers(deps, opts.resolver);
  const r = webhookRoutes;
  app.openapi(r.list, h.list);
  app.openapi(r.create, h.create);
  app.openapi(r.get, h.get);
  app.openapi(r.update, h.update);
  app.openapi(r.remove, h.remove);
  app.openapi(r.rotate, h.rotate);
  app.openapi(r.test, h.test);
  app.openapi(r.messages, h.messages);
  app.openapi(r.message, h.message);
  app.openapi(r.redeliver, h.redeliver);
  app.openapi(r.recover, h.recover);
  app.openapi(r.attempts, h.attempts);

  for (const [type, schema] of Object.entries(eventSchemas)) {
    app.openAPIRegistry.registerWebhook({
      method: 'post',
      path: type,
      tags: ['webhook events'],
      summary: `${type} (v1)`,
      description:
        'Signed per Standard Webhooks: headers webhook-id (stable across retries), webhook-timestamp and webhook-signature (v1,<base64 HMAC-SHA256> per active secret). Answer 2xx within 15 s; 410 disables the endpoint.',
      request: { body: { required: true, content: { 'application/json': { schema } } } },
      responses: { 200: { description: 'Any 2xx acknowledges the delivery' } },
    });
  }
}
