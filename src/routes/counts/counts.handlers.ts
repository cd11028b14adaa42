/** Handler for the public comment-count endpoint: one indexed query for up to 50 articles. */
import { createHash } from 'node:crypto';
import type { RouteHandler } from '@hono/zod-openapi';
import type { Db } from '../../../db/schema';
import type { AppDeps, AppEnv } from '../../deps';
import type { countsRoute } from './counts.routes';

/** Reads the denormalised published_count the moderate worker keeps on each article. */
export async function publishedCounts(db: Db, siteId: string, externalIds: string[]) {
  const rows = await db
    .selectFrom('articles')
    .select(['external_id', 'published_count'])
    .where('site_id', '=', siteId)
    .where('external_id', 'in', externalIds)
    .execute();
  return new Map(rows.map((r) => [r.external_id, r.published_count]));
}

export function countsHandler(deps: AppDeps): RouteHandler<typeof countsRoute, AppEnv> {
  return async (c) => {
    const { siteId } = c.req.valid('param');
    const q = c.req.valid('query');
    const ids = [...new Set(Array.isArray(q.article) ? q.article : [q.article])];
    const found = await publishedCounts(deps.db, siteId, ids);
    const counts = Object.fromEntries(ids.map((id) => [id, found.get(id) ?? 0]));
    const body = JSON.stringify({ counts });
    // Counts on a list page may lag a little; the ETag makes the revalidation a 304.
    const etag = `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    c.header('Cache-Control', 'public, max-age=15');
    c.header('ETag', etag);
    const inm = c.req.header('if-none-match');
    if (inm?.split(',').some((t) => t.trim() === etag)) return c.body(null, 304);
    return c.json({ counts }, 200);
  };
}
