/** Request and response schemas of the webhook admin API (they are also its OpenAPI document). */
import { z } from '@hono/zod-openapi';
import { EVENT_TYPES } from '../../webhooks/events';
import { cleanText, SiteParam } from '../comments/comments.schemas';

export const EndpointParams = SiteParam.extend({
  endpointId: z
    .string()
    .max(64)
    .regex(/^ep_[0-9a-z]+$/)
    .openapi({ param: { name: 'endpointId', in: 'path' }, example: 'ep_0123456789abcdef' }),
});

export const MessageParams = EndpointParams.extend({
  messageId: z
    .string()
    .max(64)
    .regex(/^msg_[0-9A-Za-z_-]+$/)
    .openapi({ param: { name: 'messageId', in: 'path' }, example: 'msg_2fQ8hV0dL4nXcR7t' }),
});

const EventTypeSchema = z.enum(EVENT_TYPES).openapi('WebhookEventType');

/** Shown to admins only, but stored: no NUL (Postgres refuses it) or other control characters but line breaks. */
const description = cleanText(500, { multiline: true }).trim();

const url = z.string().trim().min(1).max(2000).openapi({
  example: 'https://cms.example/hooks/parley',
  description: 'https (http only outside production)',
});

export const CreateEndpointSchema = z
  .object({
    url,
    description: description.optional(),
    eventTypes: z.array(EventTypeSchema).max(EVENT_TYPES.length).optional().openapi({
      description: 'Event types to receive; omitted or empty means every type, including future ones',
    }),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi('WebhookEndpointCreate');

export const UpdateEndpointSchema = z
  .object({
    url: url.optional(),
    description: description.optional(),
    eventTypes: z.array(EventTypeSchema).max(EVENT_TYPES.length).optional(),
    enabled: z.boolean().optional().openapi({ description: 'Re-enabling clears the failure state' }),
  })
  .strict()
  .openapi('WebhookEndpointUpdate');

export const EndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string(),
    eventTypes: z.array(z.string()),
    enabled: z.boolean(),
    disabledReason: z.enum(['manual', 'gone', 'failing']).nullable(),
    disabledAt: z.string().nullable(),
    failingSince: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('WebhookEndpoint');

export const CreatedEndpointSchema = z
  .object({
    endpoint: EndpointSchema,
    secret: z.string().openapi({ description: 'whsec_... signing secret: shown once, store it now' }),
  })
  .openapi('WebhookEndpointCreated');

export const RotateSchema = z
  .object({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .optional()
      .openapi({ description: 'How long the previous secrets keep signing (default 24 h, at most 7 days)' }),
  })
  .strict()
  .openapi('WebhookSecretRotate');

export const RotatedSchema = z
  .object({
    secret: z.string().openapi({ description: 'The new whsec_... secret: shown once' }),
    previousSecretsExpireAt: z.string(),
  })
  .openapi('WebhookSecretRotated');

export const MessageStatusSchema = z.enum(['pending', 'succeeded', 'failed']);

export const MessageSummarySchema = z
  .object({
    id: z.string().openapi({ description: 'The webhook-id header: the same on every attempt' }),
    eventType: z.string(),
    status: MessageStatusSchema,
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    deliveredAt: z.string().nullable(),
  })
  .openapi('WebhookMessage');

export const AttemptSchema = z
  .object({
    id: z.string(),
    messageId: z.string(),
    attempt: z.number().int(),
    trigger: z.enum(['scheduled', 'manual']),
    outcome: z.enum(['success', 'http_error', 'timeout', 'network_error', 'blocked']),
    statusCode: z.number().int().nullable(),
    durationMs: z.number().int(),
    responseBody: z.string().nullable().openapi({ description: 'The first 1 KB of the response' }),
    error: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('WebhookAttempt');

export const MessageDetailSchema = MessageSummarySchema.extend({
  payload: z.unknown().openapi({ description: 'The event body exactly as sent' }),
  attemptLog: z.array(AttemptSchema),
}).openapi('WebhookMessageDetail');

const cursor = z
  .string()
  .regex(/^\d{1,18}$/)
  .optional()
  .openapi({ description: 'nextCursor from the previous page' });
const limit = z.coerce.number().int().min(1).max(200).default(50);

export const MessagesQuery = z.object({ status: MessageStatusSchema.optional(), before: cursor, limit });
export const AttemptsQuery = z.object({ before: cursor, limit });

export const MessagePageSchema = z
  .object({ messages: z.array(MessageSummarySchema), nextCursor: z.string().nullable() })
  .openapi('WebhookMessagePage');
export const AttemptPageSchema = z
  .object({ attempts: z.array(AttemptSchema), nextCursor: z.string().nullable() })
  .openapi('WebhookAttemptPage');

export const RecoverSchema = z
  .object({ since: z.iso.datetime({ offset: true }).openapi({ example: '2026-11-26T00:00:00Z' }) })
  .strict()
  .openapi('WebhookRecover');

export const QueuedSchema = z.object({ messageId: z.string() }).openapi('WebhookQueued');
export const RecoveredSchema = z.object({ requeued: z.number().int() }).openapi('WebhookRecovered');
