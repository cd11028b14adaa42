/** Handlers of the webhook admin API. */
import type { RouteHandler } from '@hono/zod-openapi';
import type { WebhookAttempt, WebhookEndpoint } from '../../../db/schema/webhooks';
import type { AppDeps, AppEnv } from '../../deps';
import { AppError } from '../../lib/errors';
import {
  deleteEndpoint,
  findEndpoint,
  findMessage,
  listAttempts,
  listEndpoints,
  listMessages,
  requeueFailedSince,
  requeueMessage,
  updateEndpoint,
} from '../../repositories/webhooks';
import {
  createEndpointWithSecret,
  createTestMessage,
  guardPolicy,
  rotateSecret,
} from '../../webhooks/service';
import { BlockedAddressError, checkTarget, type Resolver, systemResolver } from '../../webhooks/ssrf';
import type { webhookRoutes } from './webhooks.routes';

type R = typeof webhookRoutes;
type H<K extends keyof R> = RouteHandler<R[K], AppEnv>;

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

function toEndpoint(e: WebhookEndpoint) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypes: e.event_types,
    enabled: e.enabled,
    disabledReason: e.disabled_reason as 'manual' | 'gone' | 'failing' | null,
    disabledAt: iso(e.disabled_at),
    failingSince: iso(e.failing_since),
    createdAt: new Date(e.created_at).toISOString(),
  };
}

/** A message as the log lists it; the detail view adds its payload and attempts. */
function toMessageSummary(m: Awaited<ReturnType<typeof listMessages>>[number]) {
  return {
    id: m.id,
    eventType: m.event_type,
    status: m.status,
    attempts: m.attempts,
    nextAttemptAt: iso(m.next_attempt_at),
    lastStatusCode: m.last_status_code,
    lastError: m.last_error,
    createdAt: new Date(m.created_at).toISOString(),
    deliveredAt: iso(m.delivered_at),
  };
}

function toAttempt(a: WebhookAttempt) {
  return {
    id: a.id,
    messageId: a.message_id,
    attempt: a.attempt,
    trigger: a.trigger as 'scheduled' | 'manual',
    outcome: a.outcome,
    statusCode: a.status_code,
    durationMs: a.duration_ms,
    responseBody: a.response_body,
    error: a.error,
    createdAt: new Date(a.created_at).toISOString(),
  };
}

export function webhookHandlers(deps: AppDeps, resolver: Resolver = systemResolver) {
  const policy = guardPolicy(deps.config);

  async function checkedUrl(raw: string): Promise<string> {
    try {
      const t = await checkTarget(raw, policy, resolver);
      return t.url.toString();
    } catch (err) {
      if (err instanceof BlockedAddressError) {
        throw new AppError(422, 'url_not_allowed', `This URL cannot receive webhooks: ${err.reason}`, {
          reason: err.reason,
          errors: [{ path: 'url', message: err.message }],
        });
      }
      throw err;
    }
  }

  async function endpointOr404(siteId: string, id: string) {
    const ep = await findEndpoint(deps.db, siteId, id);
    if (!ep) throw AppError.notFound('Endpoint');
    return ep;
  }

  const disabled = () => new AppError(409, 'endpoint_disabled', 'The endpoint is disabled; enable it first');

  const list: H<'list'> = async (c) => {
    const { siteId } = c.req.valid('param');
    return c.json({ endpoints: (await listEndpoints(deps.db, siteId)).map(toEndpoint) }, 200);
  };

  const create: H<'create'> = async (c) => {
    const { siteId } = c.req.valid('param');
    const input = c.req.valid('json');
    const url = await checkedUrl(input.url);
    const { endpoint, secret } = await createEndpointWithSecret(deps.db, deps.config.PARLEY_SECRET, {
      siteId,
      url,
      description: input.description ?? '',
      eventTypes: [...new Set(input.eventTypes ?? [])],
      enabled: input.enabled ?? true,
    });
    return c.json({ endpoint: toEndpoint(endpoint), secret }, 201);
  };

  const get: H<'get'> = async (c) => {
    const { siteId, endpointId } = c.req.valid('param');
    return c.json(toEndpoint(await endpointOr404(siteId, endpointId)), 200);
  };

  const update: H<'update'> = async (c) => {
    const { siteId, endpointId } = c.req.valid('param');
    const input = c.req.valid('json');
    const url = input.url === undefined ? undefined : await checkedUrl(input.url);
    const same =
      url && (await listEndpoints(deps.db, siteId)).find((e) => e.url === url && e.id !== endpointId);
    if (same) {
      throw new AppError(409, 'conflict', 'Another endpoint of this site already has this URL', {
        endpointId: same.id,
      });
    }
    const ep = await updateEndpoint(deps.db, siteId, endpointId, {
      url,
      description: input.description,
      eventTypes: input.eventTypes ? [...new Set(input.eventTypes)] : undefined,
      enabled: input.enabled,
    });
    if (!ep) throw AppError.notFound('Endpoint');
    return c.json(toEndpoint(ep), 200);
  };

  const remove: H<'remove'> = async (c) => {
    const { siteId, endpointId } = c.req.valid('param');
    if (!(await deleteEndpoint(deps.db, siteId, endpointId))) throw AppError.notFound('Endpoint');
    return c.body(null, 204);
  };

  const rotate: H<'rotate'> = async (c) => {
    const { siteId, endpointId } = c.req.valid('param');
    const { overlapSeconds } = c.req.valid('json');
    await endpointOr404(siteId, endpointId);
    const r = await rotateSecret(
      deps.db,
      deps.config.PARLEY_SECRET,
      endpointId,
      (overlapSeconds ?? 24 * 3600) * 1000,
      deps.now(),
    );
    return c.json({ secret: r.secret, previousSecretsExpireAt: r.previousExpireAt.toISOString() }, 200);
  };

  const test: H<'test'> = async (c) => {
    const { siteId, endpointId } = c.req.valid('param');
    const ep = await endpointOr404(siteId, endpointId);
    if (!ep.enabled) throw disabled();
    const messageId = await createTestMessage(deps.db, ep, deps.now(), deps.queues.prefix);
    return c.json({ messageId }, 202);
  };

  const messages: H<'messages'> = async (c) => {
    const { siteId, endpointId } = c.req.valid('param');
    const q = c.req.valid('query');
    await endpointOr404(siteId, endpointId);
    const rows = await listMessages(deps.db, endpointId, {
      status: q.status,
      before: q.before,
      limit: q.limit,
    });
    return c.json(
      {
        messages: rows.map(toMessageSummary),
        nextCursor: rows.length === q.limit ? String(rows[rows.length - 1]!.seq) : null,
      },
      200,
    );
  };

  const message: H<'message'> = async (c) => {
    const { siteId, endpointId, messageId } = c.req.valid('param');
    await endpointOr404(siteId, endpointId);
    const m = await findMessage(deps.db, endpointId, messageId);
    if (!m) throw AppError.notFound('Message');
    const attempts = await listAttempts(deps.db, { endpointId, messageId, limit: 100 });
    return c.json(
      {
        ...toMessageSummary(m),
        payload: JSON.parse(m.body) as unknown,
        attemptLog: attempts.map(toAttempt),
      },
      200,
    );
  };

  const redeliver: H<'redeliver'> = async (c) => {
    const { siteId, endpointId, messageId } = c.req.valid('param');
    const ep = await endpointOr404(siteId, endpointId);
    if (!ep.enabled) throw disabled();
    if (!(await requeueMessage(deps.db, endpointId, messageId, deps.now())))
      throw AppError.notFound('Message');
    return c.json({ messageId }, 202);
  };

  const recover: H<'recover'> = async (c) => {
    const { siteId, endpointId } = c.req.valid('param');
    const { since } = c.req.valid('json');
    if (new Date(since).getTime() > deps.now().getTime()) {
      throw AppError.validation([{ path: 'since', message: 'must not be in the future' }]);
    }
    const ep = await endpointOr404(siteId, endpointId);
    if (!ep.enabled) throw disabled();
    const requeued = await requeueFailedSince(deps.db, endpointId, new Date(since), deps.now());
    return c.json({ requeued }, 202);
  };

  const attempts: H<'attempts'> = async (c) => {
    const { siteId, endpointId } = c.req.valid('param');
    const q = c.req.valid('query');
    await endpointOr404(siteId, endpointId);
    const rows = await listAttempts(deps.db, { endpointId, before: q.before, limit: q.limit });
    return c.json(
      {
        attempts: rows.map(toAttempt),
        nextCursor: rows.length === q.limit ? String(rows[rows.length - 1]!.id) : null,
      },
      200,
    );
  };

  return { list, create, get, update, remove, rotate, test, messages, message, redeliver, recover, attempts };
}
