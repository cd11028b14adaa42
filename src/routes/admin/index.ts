/** Site administration over the API (token auth): site details and opening or closing articles. */
import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { type PrincipalResolver, principalResolvers, requireRole } from '../../lib/auth';
import { AppError } from '../../lib/errors';
import { jsonBody } from '../../lib/http';
import { setArticleClosed } from '../../repositories/articles';
import { ArticleParams, SiteParam } from '../comments/comments.schemas';
import { problem } from '../openapi';
import { mountAdminWorkspace } from './workspace';

const SiteSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    allowedOrigins: z.array(z.string()),
    policyVersion: z.number().int(),
  })
  .openapi('Site');

const getSite = createRoute({
  method: 'get',
  path: '/api/v1/admin/sites/{siteId}',
  tags: ['admin'],
  security: [{ bearer: [] }],
  summary: 'A site you administer or moderate',
  request: { params: SiteParam },
  responses: {
    200: { description: 'The site', content: { 'application/json': { schema: SiteSchema } } },
    401: problem('No credentials'),
    404: problem('No such site, or not yours'),
  },
});

const patchArticle = createRoute({
  method: 'patch',
  path: '/api/v1/admin/sites/{siteId}/articles/{articleId}',
  tags: ['admin'],
  security: [{ bearer: [] }],
  summary: 'Open or close an article for comments',
  request: {
    params: ArticleParams,
    body: { required: true, content: { 'application/json': { schema: z.object({ closed: z.boolean() }) } } },
  },
  responses: {
    200: {
      description: 'Updated',
      content: { 'application/json': { schema: z.object({ id: z.string(), closed: z.boolean() }) } },
    },
    401: problem('No credentials'),
    403: problem('Not an admin of this site'),
    404: problem('No such site or article'),
  },
});

export function mountAdmin(
  app: OpenAPIHono<AppEnv>,
  deps: AppDeps,
  resolvers: PrincipalResolver[] = principalResolvers(deps),
) {
  app.use('/api/v1/admin/*', jsonBody());
  app.use('/api/v1/admin/sites/:siteId', requireRole(resolvers, 'moderator'));
  app.use('/api/v1/admin/sites/:siteId/articles/*', requireRole(resolvers, 'admin'));
  mountAdminWorkspace(app, deps, resolvers);

  app.openapi(getSite, async (c) => {
    const site = await deps.sites.get(c.req.valid('param').siteId);
    if (!site) throw AppError.notFound('Site');
    return c.json(
      {
        id: site.id,
        name: site.name,
        allowedOrigins: site.allowedOrigins,
        policyVersion: site.policyVersion,
      },
      200,
    );
  });

  app.openapi(patchArticle, async (c) => {
    const { siteId, articleId } = c.req.valid('param');
    const { closed } = c.req.valid('json');
    const row = await setArticleClosed(deps.db, siteId, articleId, closed);
    if (!row) throw AppError.notFound('Article');
    deps.ingest.invalidateArticle(siteId, articleId);
    return c.json({ id: articleId, closed: row.closed }, 200);
  });
}
