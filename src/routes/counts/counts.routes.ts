/** Route definition for the public comment-count endpoint. */
import { createRoute } from '@hono/zod-openapi';
import { SiteParam } from '../comments/comments.schemas';
import { problem } from '../openapi';
import { CountsQuery, CountsSchema } from './counts.schemas';

export const countsRoute = createRoute({
  method: 'get',
  path: '/api/v1/sites/{siteId}/counts',
  tags: ['comments'],
  summary: 'Published comment counts for several articles (the count tag on article lists)',
  request: { params: SiteParam, query: CountsQuery },
  responses: {
    200: { description: 'Counts', content: { 'application/json': { schema: CountsSchema } } },
    304: { description: 'Not modified (If-None-Match matched the ETag)' },
    404: problem('Unknown site'),
    422: problem('Missing or too many article ids'),
  },
});
