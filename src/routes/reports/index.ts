/**
 * Public reader reports: POST /api/v1/sites/{siteId}/comments/{commentId}/reports. The site's CORS
 * and JSON-only rules (mounted by the comments routes for /api/v1/sites/:siteId/*) apply.
 */

import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { hashIp, hmac } from '../../lib/crypto';
import { AppError } from '../../lib/errors';
import { limitReport, siteLimits } from '../../lib/rate-limit';
import { insertOutbox } from '../../repositories/outbox';
import { fileReport } from '../../repositories/reports';
import { getSettings } from '../../repositories/site-settings';
import { publishNow } from '../../services/outbox-publisher';
import { CommentParams, cleanText } from '../comments/comments.schemas';
import { problem } from '../openapi';

export const ReportBody = z
  .object({
    reason: z.enum(['spam', 'abuse', 'off_topic', 'other']),
    note: cleanText(500, { multiline: true }).optional(),
    /** An opaque id the embed keeps per browser, so readers sharing an address count separately. */
    readerToken: z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,128}$/)
      .optional(),
  })
  .openapi('ReportRequest');

const fileRoute = createRoute({
  method: 'post',
  path: '/api/v1/sites/{siteId}/comments/{commentId}/reports',
  tags: ['comments'],
  summary: 'Report a published comment to the moderators',
  description:
    'One report per reader per comment (a reader is the HMAC of their IP plus the optional readerToken). Past the site’s threshold of distinct reporters the comment enters the moderators’ reported queue. It stays published until a moderator decides.',
  request: {
    params: CommentParams,
    body: { required: true, content: { 'application/json': { schema: ReportBody } } },
  },
  responses: {
    202: {
      description: 'Report received',
      content: { 'application/json': { schema: z.object({ status: z.literal('received') }) } },
    },
    400: problem('Malformed JSON'),
    403: problem('Origin not allowed'),
    404: problem('No such site or published comment'),
    409: problem('already_reported: this reader already reported this comment'),
    415: problem('Not JSON'),
    422: problem('Invalid fields'),
    429: problem('Too many reports; see Retry-After'),
  },
});

export function mountReports(app: OpenAPIHono<AppEnv>, deps: AppDeps): void {
  app.openapi(fileRoute, async (c) => {
    const { siteId, commentId } = c.req.valid('param');
    const input = c.req.valid('json');
    const secret = deps.config.PARLEY_SECRET;
    const ip = c.get('clientIp');
    const ipHash = ip ? hashIp(secret, ip) : null;
    // Per reader address and per comment, with the in-memory fallback while Redis is away.
    await limitReport(deps, { siteId, commentId, ipHash }, siteLimits(c.get('site').policy));
    const readerKey = hmac(secret, 'reader', `${ipHash ?? ''}|${input.readerToken ?? ''}`);
    const settings = await getSettings(deps.db, siteId);
    const { result, outbox } = await deps.db.transaction().execute(async (trx) => {
      const result = await fileReport(trx, {
        siteId,
        commentId,
        readerKey,
        ipHash,
        reason: input.reason,
        note: input.note?.trim() || null,
        threshold: settings.reportThreshold,
      });
      if (result.state !== 'filed') return { result, outbox: [] };
      const outbox = await insertOutbox(trx, [
        {
          topic: 'comment.reported',
          siteId,
          commentId,
          requestId: c.get('requestId'),
          payload: {
            articleId: result.articleId,
            reason: input.reason,
            reporters: result.reporters,
            enteredQueue: result.entered,
          },
        },
      ]);
      return { result, outbox };
    });
    if (result.state === 'missing') throw AppError.notFound('Comment');
    if (result.state === 'duplicate') {
      throw new AppError(409, 'already_reported', 'You have already reported this comment');
    }
    void publishNow(deps.db, deps.queues, outbox);
    return c.json({ status: 'received' as const }, 202);
  });
}
