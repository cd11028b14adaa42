/** Public comment-count shapes, for the count tag on article lists. */
import { z } from '@hono/zod-openapi';

export const MAX_COUNT_ARTICLES = 50;

const articleId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'Must not contain control characters');

export const CountsQuery = z.object({
  // `?article=a&article=b`: one value arrives as a string, several as an array.
  article: z
    .union([articleId, z.array(articleId).min(1).max(MAX_COUNT_ARTICLES)], {
      error: `Give 1 to ${MAX_COUNT_ARTICLES} article ids, as ?article=a&article=b`,
    })
    .openapi({
      param: { name: 'article', in: 'query', style: 'form', explode: true },
      description: `The publisher's article id; repeat for up to ${MAX_COUNT_ARTICLES} articles`,
      example: 'demo-article',
    }),
});

export const CountsSchema = z
  .object({
    counts: z
      .record(z.string(), z.number().int())
      .openapi({ description: 'Published comments per requested article; unknown articles count 0' }),
  })
  .openapi('CommentCounts');
