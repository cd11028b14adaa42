/** The one application error type, and its mapping to RFC 9457 problem details. */

import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export type ErrorCode =
  | 'bad_request'
  | 'invalid_json'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'origin_not_allowed'
  | 'not_found'
  | 'method_not_allowed'
  | 'article_closed'
  | 'invalid_parent'
  | 'idempotency_key_reused'
  | 'unstorable_content'
  | 'conflict'
  | 'last_admin'
  | 'account_disabled'
  | 'already_decided'
  | 'claimed_by_other'
  | 'csrf_failed'
  | 'invalid_credentials'
  | 'undo_expired'
  | 'not_editable'
  | 'edit_window_closed'
  | 'has_replies'
  | 'comment_edited'
  | 'already_reported'
  | 'url_not_allowed'
  | 'endpoint_disabled'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `author.name`. */
  path: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    public readonly status: ContentfulStatusCode,
    public readonly code: ErrorCode,
    message: string,
    public readonly extra: { errors?: FieldIssue[]; retryAfterSeconds?: number; [k: string]: unknown } = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  static notFound(what = 'Resource') {
    return new AppError(404, 'not_found', `${what} not found`);
  }

  static validation(errors: FieldIssue[]) {
    return new AppError(422, 'validation_failed', 'The request has invalid fields', { errors });
  }

  static unavailable(detail = 'A backing service is unavailable; try again shortly') {
    return new AppError(503, 'unavailable', detail, { retryAfterSeconds: 2 });
  }

  toProblem() {
    const { retryAfterSeconds: _r, ...rest } = this.extra;
    return {
      type: `https://parley.dev/problems/${this.code}`,
      title: this.message,
      status: this.status,
      code: this.code,
      ...rest,
    };
  }
}

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

export function zodIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
}

/** Errors raised by pg / ioredis (one server or a cluster) when the server is unreachable: answered 503, not 500. */
function isConnectivityError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  const codes = [
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EPIPE',
    'ENOTFOUND',
    '57P01',
    '57P03',
    '08006',
    '08001',
    '57P02',
    '53300',
  ];
  if (e.code && codes.includes(e.code)) return true;
  const m = e.message ?? '';
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Stream isn't writeable|Connection is closed|the database system is (starting up|shutting down|in recovery mode)|Reached the max retries per request limit|is not queryable|terminating connection due to|Cluster isn't ready|CLUSTERDOWN|Failed to refresh slots cache|None of startup nodes is available/i.test(
    m,
  );
}

export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof HTTPException) {
    if (err.status === 413) return new AppError(413, 'payload_too_large', 'The request body is too large');
    // @hono/zod-openapi's media-type gate: a JSON route sent a Content-Type it does not match
    // (e.g. `application/json;;`), after jsonBody let it pass. The same answer as jsonBody's.
    if (err.status === 415) {
      return new AppError(415, 'unsupported_media_type', 'Send the request body as application/json');
    }
    return new AppError(err.status as ContentfulStatusCode, 'bad_request', err.message || 'Bad request');
  }
  if (isConnectivityError(err)) return AppError.unavailable();
  return new AppError(500, 'internal', 'Internal server error');
}

/**
 * The single place errors become HTTP responses: status, headers and body, for whichever writer
 * sends them (Hono's context, or node:http on the submission fast path).
 */
export function problemParts(err: AppError): {
  status: ContentfulStatusCode;
  headers: Record<string, string>;
  body: string;
} {
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (err.extra.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.extra.retryAfterSeconds);
  return { status: err.status, headers, body: JSON.stringify(err.toProblem()) };
}

export function problemResponse(c: Context, err: AppError) {
  const p = problemParts(err);
  return c.body(p.body, p.status, p.headers);
}
