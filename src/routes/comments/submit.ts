/**
 * Accepting one submission, whichever front it came through: the OpenAPI route (Hono) or the
 * node:http fast path (submit-fast-path.ts). Both hand over a validated body and the few request
 * facts it needs; everything a submission does after validation lives here, once.
 */
import type { z } from '@hono/zod-openapi';
import type { AppDeps } from '../../deps';
import { authorToken, checkFormToken, hashEmail, hashIp } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { metrics } from '../../lib/metrics';
import { authorKey, rateLimiterFor, siteLimits } from '../../lib/rate-limit';
import type { SiteRecord } from '../../repositories/sites';
import type { AcceptedSchema, submitCommentSchema } from './comments.schemas';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{8,200}$/;

export type SubmitInput = z.output<ReturnType<typeof submitCommentSchema>>;

export interface SubmitRequest {
  siteId: string;
  articleId: string;
  site: SiteRecord;
  input: SubmitInput;
  /** Raw header values, as sent (undefined when absent). */
  idempotencyKey: string | undefined;
  userAgent: string | undefined;
  referer: string | undefined;
  origin: string | undefined;
  clientIp: string | undefined;
  requestId: string;
}

export function toPublicStatus(status: string): 'pending' | 'published' | 'rejected' {
  if (status === 'published') return 'published';
  if (status === 'pending' || status === 'held') return 'pending';
  return 'rejected';
}

/** Until when a comment posted at `createdAt` may be edited under the site's window; null: never. */
export function editableUntil(createdAt: Date, windowSeconds: number): string | null {
  return windowSeconds > 0 ? new Date(createdAt.getTime() + windowSeconds * 1000).toISOString() : null;
}

/** Stores the comment (durably, before this resolves) and returns the 202's Location and body. */
export async function submitComment(
  deps: AppDeps,
  r: SubmitRequest,
): Promise<{ location: string; body: z.input<typeof AcceptedSchema> }> {
  const { siteId, articleId, input } = r;
  if (r.idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(r.idempotencyKey)) {
    throw AppError.validation([{ path: 'Idempotency-Key', message: '8 to 200 visible ASCII characters' }]);
  }
  const secret = deps.config.PARLEY_SECRET;
  // Redis away: say so at once rather than store a comment nobody can moderate until it is back
  // (REDIS_DOWN_SUBMISSIONS=accept stores it; the outbox relays it later).
  if (deps.config.REDIS_DOWN_SUBMISSIONS === 'reject' && deps.redis.status !== 'ready') {
    throw AppError.unavailable('The comment queue is unavailable; nothing was stored. Try again shortly');
  }
  const ipHash = r.clientIp ? hashIp(secret, r.clientIp) : null;
  const emailHash = input.authorEmail ? hashEmail(secret, input.authorEmail) : null;
  await rateLimiterFor(deps).consume(
    {
      submit_ip: ipHash ? `${siteId}:${ipHash}` : null,
      submit_author: authorKey(siteId, emailHash),
      submit_article: `${siteId}:${articleId}`,
    },
    siteLimits(r.site.policy),
  );
  const now = deps.now();
  const token = checkFormToken(secret, siteId, input.formToken, now.getTime());
  const accepted = await deps.ingest.submit({
    siteId,
    articleExternalId: articleId,
    articleUrl: input.articleUrl ?? null,
    articleTitle: input.articleTitle ?? null,
    parentId: input.parentId ?? null,
    authorName: input.authorName.trim(),
    authorEmail: input.authorEmail ?? null,
    emailHash,
    body: input.body,
    ipHash,
    userAgent: r.userAgent?.slice(0, 512) ?? null,
    referrer: (r.referer ?? r.origin)?.slice(0, 2000) ?? null,
    signals: {
      honeypot: Boolean(input.website && input.website.length > 0),
      formToken: token.state,
      ...(token.state === 'ok' ? { formAgeMs: token.ageMs } : {}),
    },
    idempotencyKey: r.idempotencyKey ?? null,
    requestId: r.requestId,
  });
  if (!accepted.replayed) metrics.commentsAccepted.inc();
  const location = `/api/v1/sites/${siteId}/comments/${accepted.id}`;
  return {
    location,
    body: {
      id: accepted.id,
      status: toPublicStatus(accepted.status),
      statusUrl: location,
      authorToken: authorToken(secret, accepted.id),
      editableUntil: editableUntil(accepted.createdAt, r.site.policy.editWindowSeconds),
    },
  };
}
