/**
 * The events publishers receive: `{ type, timestamp, data }`, version 1. Adding a field is not a
 * breaking change; removing or retyping one would ship as a new type name. Payloads carry the
 * comment's public fields and its article, never email, IP hash or user agent.
 */
import { z } from '@hono/zod-openapi';
import type { OutboxRow } from '../../db/schema';

export const COMMENT_EVENT_TYPES = [
  'comment.submitted',
  'comment.published',
  'comment.held',
  'comment.rejected',
  'comment.approved',
  'comment.reported',
  'comment.deleted',
  'comment.edited',
] as const;
export const EVENT_TYPES = [...COMMENT_EVENT_TYPES, 'endpoint.disabled'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export type CommentEventType = (typeof COMMENT_EVENT_TYPES)[number];
/** Sent only by the "send test event" action, whatever the endpoint subscribes to. */
export const TEST_EVENT_TYPE = 'webhook.test';

export function isEventType(t: string): t is EventType {
  return (EVENT_TYPES as readonly string[]).includes(t);
}

const Reason = z
  .object({
    code: z.string().openapi({ example: 'toxicity.classifier' }),
    category: z.string().nullable().openapi({ example: 'toxicity' }),
    message: z.string().nullable().openapi({ example: 'The text reads as insulting' }),
  })
  .openapi('WebhookReasonV1');

export const CommentEventDataSchema = z
  .object({
    id: z.string().uuid(),
    siteId: z.string(),
    article: z.object({
      id: z.string().nullable().openapi({ description: "The publisher's own article id" }),
      url: z.string().nullable(),
      title: z.string().nullable(),
    }),
    parentId: z.string().uuid().nullable(),
    authorName: z.string().nullable().openapi({ description: 'null in comment.deleted' }),
    body: z
      .string()
      .nullable()
      .openapi({ description: 'Raw text as submitted: escape it when rendering. null in comment.deleted' }),
    status: z.enum(['pending', 'published', 'held', 'rejected', 'deleted']),
    createdAt: z.string().nullable(),
    actor: z.enum(['system', 'moderator', 'author']).optional().openapi({
      description:
        "Who decided (decision events): the pipeline, a moderator, or (comment.deleted and comment.edited only) the comment's author deleting or editing it themselves",
    }),
    reasonCode: z.string().nullable().optional().openapi({
      description: "comment.held, comment.rejected, comment.deleted; 'edited' in comment.edited",
    }),
    reasons: z.array(Reason).optional().openapi({ description: 'comment.held and comment.rejected' }),
    reportCount: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'comment.reported: reports filed so far' }),
    reportReason: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: 'comment.reported: the reason the reader gave' }),
    erasure: z.boolean().optional().openapi({
      description:
        'comment.deleted: the author asked for erasure; purge every copy. false when the author deleted one comment (actor author): remove it wherever you show it',
    }),
  })
  .openapi('WebhookCommentDataV1');

export const EndpointDisabledDataSchema = z
  .object({
    endpointId: z.string(),
    url: z.string(),
    reason: z
      .enum(['gone', 'failing'])
      .openapi({ description: 'gone: it answered 410; failing: no success for 5 days' }),
    disabledAt: z.string(),
    failingSince: z.string().nullable(),
  })
  .openapi('WebhookEndpointDisabledDataV1');

export const TestEventDataSchema = z
  .object({ endpointId: z.string(), message: z.string() })
  .openapi('WebhookTestDataV1');

const envelope = <T extends z.ZodTypeAny>(type: string, data: T, name: string) =>
  z
    .object({
      type: z.literal(type),
      timestamp: z.string().openapi({ description: 'When the event happened (ISO 8601)' }),
      data,
    })
    .openapi(name);

/** One schema per event type, named for the OpenAPI document. */
export const eventSchemas: Record<string, z.ZodTypeAny> = {
  ...Object.fromEntries(
    COMMENT_EVENT_TYPES.map((t) => [
      t,
      envelope(t, CommentEventDataSchema, `WebhookEvent_${t.replace('.', '_')}_v1`),
    ]),
  ),
  'endpoint.disabled': envelope(
    'endpoint.disabled',
    EndpointDisabledDataSchema,
    'WebhookEvent_endpoint_disabled_v1',
  ),
  [TEST_EVENT_TYPE]: envelope(TEST_EVENT_TYPE, TestEventDataSchema, 'WebhookEvent_webhook_test_v1'),
};

export interface EventBody {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** What the fan-out loads for a comment event: public fields only, by construction. */
export interface CommentSnapshot {
  id: string;
  siteId: string;
  articleExternalId: string | null;
  articleUrl: string | null;
  articleTitle: string | null;
  parentId: string | null;
  authorName: string;
  body: string;
  status: string;
  reportCount: number;
  createdAt: Date;
}

const STATUS_OF: Partial<Record<CommentEventType, string>> = {
  'comment.submitted': 'pending',
  'comment.published': 'published',
  'comment.held': 'held',
  'comment.rejected': 'rejected',
  'comment.approved': 'published',
  'comment.deleted': 'deleted',
  // The edited text waits for moderation again: take the old one down until comment.published.
  'comment.edited': 'pending',
};

function reasonsOf(payload: Record<string, unknown>) {
  const list = Array.isArray(payload.reasons) ? payload.reasons : [];
  return list.slice(0, 50).map((r) => {
    const o = (r ?? {}) as Record<string, unknown>;
    return {
      code: String(o.code ?? o.reasonCode ?? 'unknown'),
      category: typeof o.category === 'string' ? o.category : null,
      message: typeof o.message === 'string' ? o.message : null,
    };
  });
}

/**
 * The body for an outbox row. The status comes from the event, not the row as it is now, so a
 * comment.submitted fanned out after the comment was published still says pending.
 */
export function buildEventBody(row: OutboxRow, comment: CommentSnapshot | undefined): EventBody | undefined {
  if (!isEventType(row.topic)) return undefined;
  const payload = (row.payload ?? {}) as Record<string, unknown>;
  const timestamp = new Date(row.created_at).toISOString();
  if (row.topic === 'endpoint.disabled') return { type: row.topic, timestamp, data: payload };
  const type = row.topic as CommentEventType;
  const deleted = type === 'comment.deleted';
  const data: Record<string, unknown> = {
    id: comment?.id ?? row.comment_id,
    siteId: row.site_id,
    article: {
      id: comment?.articleExternalId ?? null,
      url: comment?.articleUrl ?? null,
      title: comment?.articleTitle ?? null,
    },
    parentId: comment?.parentId ?? null,
    // A deleted comment's text is not redistributed, erased or not.
    authorName: deleted ? null : (comment?.authorName ?? null),
    body: deleted ? null : (comment?.body ?? null),
    status: STATUS_OF[type] ?? comment?.status ?? 'pending',
    createdAt: comment ? new Date(comment.createdAt).toISOString() : null,
  };
  if (type !== 'comment.submitted' && type !== 'comment.reported') {
    data.actor = actorOf(type, payload.actor);
  }
  if (type === 'comment.held' || type === 'comment.rejected') {
    data.reasonCode = typeof payload.reasonCode === 'string' ? payload.reasonCode : null;
    data.reasons = reasonsOf(payload);
  }
  if (type === 'comment.reported') {
    data.reportCount =
      typeof payload.reporters === 'number' ? payload.reporters : (comment?.reportCount ?? 0);
    data.reportReason = typeof payload.reason === 'string' ? payload.reason : null;
  }
  if (deleted) {
    data.reasonCode = typeof payload.reasonCode === 'string' ? payload.reasonCode : null;
    data.erasure = isErasure(payload);
  }
  if (type === 'comment.edited') data.reasonCode = 'edited';
  return { type, timestamp, data };
}

/** Authors only ever delete or edit (their own comment); any other actor is a moderator or the pipeline. */
function actorOf(type: CommentEventType, actor: unknown): 'system' | 'moderator' | 'author' {
  if (actor === 'author' && (type === 'comment.deleted' || type === 'comment.edited')) return 'author';
  return actor === 'moderator' ? 'moderator' : 'system';
}

/**
 * The comment's text must not be sent again, in any stored message about it: an erasure, or its
 * author deleting it (they asked for it to be gone; the event says so with actor 'author').
 */
export function scrubsText(payload: Record<string, unknown>): boolean {
  return isErasure(payload) || payload.actor === 'author';
}

/** An erasure request (the privacy feature writes reasonCode 'erasure'). */
export function isErasure(payload: Record<string, unknown>): boolean {
  return payload.erasure === true || payload.reasonCode === 'erasure';
}

export function subscribes(eventTypes: string[], type: string): boolean {
  return eventTypes.length === 0 || eventTypes.includes(type);
}
