/** Route definition for the public comment-count endpoint. */
import { createRoute } from '@hono/zod-openapi';
import { problemSchema } from '../../lib/errors';
import { SiteParam } from '../comments/comments.schemas';
import { CountsQuery, CountsSchema } from './counts.schemas';

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
});

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
