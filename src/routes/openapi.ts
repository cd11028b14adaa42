/** Response declarations every route file uses, so each status is documented the same way. */
import type { z } from '@hono/zod-openapi';
import { problemSchema } from '../lib/errors';

/** An error response: RFC 9457 problem details with a stable `code`. */
export const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: problemSchema } },
});

export const json = <T extends z.ZodType>(description: string, schema: T) => ({
  description,
  content: { 'application/json': { schema } },
});
