/** Gathers what the pure rules may know about a comment (history, counts) before they run. */
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema';
import type { CommentInput, ModerationContext } from '../src/moderation/types';
import type { ModerationRow } from '../src/repositories/comments';
import type { SiteRecord } from '../src/repositories/sites';

export interface ContextDeps {
  db: Kysely<Database>;
  now: () => Date;
}

export function toCommentInput(row: ModerationRow): CommentInput {
  return {
    id: row.id,
    body: row.body,
    authorName: row.author_name,
    authorEmail: row.author_email,
    emailHash: row.email_hash,
    ipHash: row.ip_hash,
    userAgent: row.user_agent,
    referrer: row.referrer,
    parentId: row.parent_id,
    signals: row.signals ?? {},
    createdAt: row.created_at,
  };
}

export async function buildModerationContext(
  deps: ContextDeps,
  row: ModerationRow,
  site: SiteRecord,
): Promise<ModerationContext> {
  return {
    siteId: site.id,
    policy: site.policy,
    policyVersion: site.policyVersion,
    article: {
      id: row.article_id,
      closed: row.article_closed,
      url: row.article_url,
      title: row.article_title,
    },
    now: deps.now(),
    history: {},
  };
}
