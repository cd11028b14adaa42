/** Route definitions of the webhook admin API: every status and schema is declared here. */
import { createRoute, z } from '@hono/zod-openapi';
import { SiteParam } from '../comments/comments.schemas';
import { json, problem } from '../openapi';
import {
  AttemptPageSchema,
  AttemptsQuery,
  CreatedEndpointSchema,
  CreateEndpointSchema,
  EndpointParams,
  EndpointSchema,
  MessageDetailSchema,
  MessagePageSchema,
  MessageParams,
  MessagesQuery,
  QueuedSchema,
  RecoveredSchema,
  RecoverSchema,
  RotatedSchema,
  RotateSchema,
  UpdateEndpointSchema,
} from './webhooks.schemas';

const body = <T extends z.ZodTypeAny>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

/** Actions take an empty JSON object: every admin write is JSON (see jsonBody). */
const Empty = z.object({}).strict().openapi('Empty');

const base = '/api/v1/admin/sites/{siteId}/webhooks/endpoints';
const common = { tags: ['webhooks'], security: [{ bearer: [] }] };
const denied = {
  401: problem('No credentials'),
  403: problem('Not an admin of this site'),
  404: problem('No such site or endpoint, or not yours'),
};

export const webhookRoutes = {
  list: createRoute({
    ...common,
    method: 'get',
    path: base,
    summary: "The site's webhook endpoints",
    request: { params: SiteParam },
    responses: { 200: json('Endpoints', z.object({ endpoints: z.array(EndpointSchema) })), ...denied },
  }),
  create: createRoute({
    ...common,
    method: 'post',
    path: base,
    summary: 'Register an endpoint; the answer carries its signing secret, shown once',
    request: { params: SiteParam, body: body(CreateEndpointSchema) },
    responses: {
      201: json('Created', CreatedEndpointSchema),
      400: problem('Malformed JSON'),
      415: problem('Not JSON'),
      409: problem('An endpoint with this URL already exists on this site (its id is in endpointId)'),
      422: problem('Invalid fields, or a URL that is not allowed (code url_not_allowed)'),
      ...denied,
    },
  }),
  get: createRoute({
    ...common,
    method: 'get',
    path: `${base}/{endpointId}`,
    summary: 'One endpoint',
    request: { params: EndpointParams },
    responses: { 200: json('The endpoint', EndpointSchema), ...denied },
  }),
  update: createRoute({
    ...common,
    method: 'patch',
    path: `${base}/{endpointId}`,
    summary: 'Change URL, description, event types, or enable / disable',
    request: { params: EndpointParams, body: body(UpdateEndpointSchema) },
    responses: {
      200: json('Updated', EndpointSchema),
      400: problem('Malformed JSON'),
      415: problem('Not JSON'),
      409: problem('Another endpoint of this site already has this URL (its id is in endpointId)'),
      422: problem('Invalid fields, or a URL that is not allowed (code url_not_allowed)'),
      ...denied,
    },
  }),
  remove: createRoute({
    ...common,
    method: 'delete',
    path: `${base}/{endpointId}`,
    summary: 'Delete an endpoint with its secrets and delivery log',
    request: { params: EndpointParams },
    responses: { 204: { description: 'Deleted' }, ...denied },
  }),
  rotate: createRoute({
    ...common,
    method: 'post',
    path: `${base}/{endpointId}/secret/rotate`,
    summary: 'New signing secret; the previous ones keep signing for the overlap',
    request: { params: EndpointParams, body: body(RotateSchema) },
    responses: {
      200: json('Rotated', RotatedSchema),
      400: problem('Malformed JSON'),
      415: problem('Not JSON'),
      422: problem('Invalid fields'),
      ...denied,
    },
  }),
  test: createRoute({
    ...common,
    method: 'post',
    path: `${base}/{endpointId}/test`,
    summary: 'Send a webhook.test event to this endpoint',
    request: { params: EndpointParams, body: body(Empty) },
    responses: {
      202: json('Queued', QueuedSchema),
      400: problem('Malformed JSON'),
      409: problem('The endpoint is disabled (code endpoint_disabled)'),
      415: problem('Not JSON: send {}'),
      ...denied,
    },
  }),
  messages: createRoute({
    ...common,
    method: 'get',
    path: `${base}/{endpointId}/messages`,
    summary: "The endpoint's messages, newest first",
    request: { params: EndpointParams, query: MessagesQuery },
    responses: {
      200: json('A page of messages', MessagePageSchema),
      422: problem('Invalid query'),
      ...denied,
    },
  }),
  message: createRoute({
    ...common,
    method: 'get',
    path: `${base}/{endpointId}/messages/{messageId}`,
    summary: 'One message, its payload and every attempt',
    request: { params: MessageParams },
    responses: { 200: json('The message', MessageDetailSchema), ...denied },
  }),
  redeliver: createRoute({
    ...common,
    method: 'post',
    path: `${base}/{endpointId}/messages/{messageId}/redeliver`,
    summary: 'Send a message again (same webhook-id) with a fresh retry schedule',
    request: { params: MessageParams, body: body(Empty) },
    responses: {
      202: json('Queued', QueuedSchema),
      400: problem('Malformed JSON'),
      409: problem('The endpoint is disabled (code endpoint_disabled)'),
      415: problem('Not JSON: send {}'),
      ...denied,
    },
  }),
  recover: createRoute({
    ...common,
    method: 'post',
    path: `${base}/{endpointId}/recover`,
    summary: 'Send again every message that failed since a time',
    request: { params: EndpointParams, body: body(RecoverSchema) },
    responses: {
      202: json('Queued', RecoveredSchema),
      400: problem('Malformed JSON'),
      409: problem('The endpoint is disabled (code endpoint_disabled)'),
      415: problem('Not JSON'),
      422: problem('Invalid fields, or a `since` in the future'),
      ...denied,
    },
  }),
  attempts: createRoute({
    ...common,
    method: 'get',
    path: `${base}/{endpointId}/attempts`,
    summary: 'The delivery log: every attempt, newest first',
    request: { params: EndpointParams, query: AttemptsQuery },
    responses: {
      200: json('A page of attempts', AttemptPageSchema),
      422: problem('Invalid query'),
      ...denied,
    },
  }),
};
