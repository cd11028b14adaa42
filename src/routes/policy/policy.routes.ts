/** Route definitions for a site's moderation policy (admin role): every status declared. */
import { createRoute } from '@hono/zod-openapi';
import { problem } from '../openapi';
import {
  HistoryQuery,
  PolicyHistorySchema,
  PolicyStateSchema,
  SavePolicySchema,
  SiteParam,
  WhatIfReportSchema,
  WhatIfRequestSchema,
} from './policy.schemas';

const common = {
  401: problem('No credentials'),
  403: problem('Not an admin of this site'),
  404: problem('No such site, or not yours'),
};

const base = '/api/v1/admin/sites/{siteId}/policy';

export const getPolicy = createRoute({
  method: 'get',
  path: base,
  tags: ['policy'],
  security: [{ bearer: [] }],
  summary: "The site's current moderation policy and its version",
  request: { params: SiteParam },
  responses: {
    200: {
      description: 'The current policy',
      content: { 'application/json': { schema: PolicyStateSchema } },
    },
    ...common,
  },
});

export const listVersions = createRoute({
  method: 'get',
  path: `${base}/versions`,
  tags: ['policy'],
  security: [{ bearer: [] }],
  summary: 'Every saved version of the policy, newest first',
  request: { params: SiteParam, query: HistoryQuery },
  responses: {
    200: { description: 'Versions', content: { 'application/json': { schema: PolicyHistorySchema } } },
    ...common,
    422: problem('Invalid query'),
  },
});

export const savePolicy = createRoute({
  method: 'put',
  path: base,
  tags: ['policy'],
  security: [{ bearer: [] }],
  summary: 'Save a new policy version (decisions from now on name it)',
  description: 'Run POST .../policy/what-if first to see what the change would have done to recent comments.',
  request: {
    params: SiteParam,
    body: { required: true, content: { 'application/json': { schema: SavePolicySchema } } },
  },
  responses: {
    200: { description: 'Saved', content: { 'application/json': { schema: PolicyStateSchema } } },
    400: problem('Malformed JSON'),
    ...common,
    409: problem('The policy changed since expectedVersion'),
    415: problem('Not JSON'),
    422: problem('Invalid policy'),
  },
});

export const whatIf = createRoute({
  method: 'post',
  path: `${base}/what-if`,
  tags: ['policy'],
  security: [{ bearer: [] }],
  summary: "Replay a proposed policy over the site's recently decided comments",
  description:
    "Runs the current and the proposed policy over comments decided in the last `days` (at most `limit`), with the history each comment had, and compares both with the moderators' final decisions. Saves nothing.",
  request: {
    params: SiteParam,
    body: { required: true, content: { 'application/json': { schema: WhatIfRequestSchema } } },
  },
  responses: {
    200: {
      description: 'What would have changed',
      content: { 'application/json': { schema: WhatIfReportSchema } },
    },
    400: problem('Malformed JSON'),
    ...common,
    415: problem('Not JSON'),
    422: problem('Invalid policy'),
  },
});
