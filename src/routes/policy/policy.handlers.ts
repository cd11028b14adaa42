/** Handlers for the policy API: read, history, save a version, what-if replay. */
import type { RouteHandler } from '@hono/zod-openapi';
import type { AppDeps, AppEnv } from '../../deps';
import { AppError, type FieldIssue } from '../../lib/errors';
import type { Policy } from '../../moderation/policy';
import { defaultRules } from '../../moderation/rules';
import { runningRules } from '../../moderation/running-rules';
import type { PastComment } from '../../moderation/whatif';
import { whatIf as replay } from '../../moderation/whatif';
import { loadAdaptiveStates } from '../../repositories/adaptive';
import { listPolicyVersions, policyVersionCreatedAt, recentDecided } from '../../repositories/policy';
import { savePolicy as saveVersion } from '../../repositories/sites';
import type * as R from './policy.routes';

/** Changed comments listed in a what-if answer; the counts always cover all of them. */
const MAX_CHANGES = 200;

function thresholdIssues(policy: Policy): FieldIssue[] {
  return Object.entries(policy.thresholds)
    .filter(([, t]) => t.reject < t.hold)
    .map(([name]) => ({
      path: `policy.thresholds.${name}.reject`,
      message: 'Must be at least the hold threshold',
    }));
}

async function siteOr404(deps: AppDeps, siteId: string) {
  const site = await deps.sites.get(siteId);
  if (!site) throw AppError.notFound('Site');
  return site;
}

export function policyHandlers(deps: AppDeps) {
  const get: RouteHandler<typeof R.getPolicy, AppEnv> = async (c) => {
    const { siteId } = c.req.valid('param');
    const site = await siteOr404(deps, siteId);
    const [latest] = await listPolicyVersions(deps.db, siteId, 1);
    return c.json(
      {
        version: site.policyVersion,
        policy: site.policy,
        createdBy: latest?.version === site.policyVersion ? latest.createdBy : null,
        createdAt: latest?.version === site.policyVersion ? latest.createdAt.toISOString() : null,
      },
      200,
    );
  };

  const versions: RouteHandler<typeof R.listVersions, AppEnv> = async (c) => {
    const { siteId } = c.req.valid('param');
    const { limit } = c.req.valid('query');
    const site = await siteOr404(deps, siteId);
    const list = await listPolicyVersions(deps.db, siteId, limit);
    return c.json(
      {
        currentVersion: site.policyVersion,
        versions: list.map((v) => ({ ...v, createdAt: v.createdAt.toISOString() })),
      },
      200,
    );
  };

  const save: RouteHandler<typeof R.savePolicy, AppEnv> = async (c) => {
    const { siteId } = c.req.valid('param');
    const { policy, expectedVersion } = c.req.valid('json');
    const issues = thresholdIssues(policy);
    if (issues.length) throw AppError.validation(issues);
    const actor = c.get('principal').actorId;
    const version = await deps.db.transaction().execute(async (trx) => {
      // The row lock orders concurrent saves, so expectedVersion is checked against the latest.
      const row = await trx
        .selectFrom('sites')
        .select('policy_version')
        .where('id', '=', siteId)
        .forUpdate()
        .executeTakeFirst();
      if (!row) throw AppError.notFound('Site');
      if (expectedVersion !== undefined && expectedVersion !== row.policy_version) {
        throw new AppError(
          409,
          'conflict',
          `The policy is at version ${row.policy_version}, not ${expectedVersion}`,
          {
            currentVersion: row.policy_version,
          },
        );
      }
      return saveVersion(trx, siteId, policy, actor);
    });
    // This process sees it at once; other processes within their site cache TTL.
    deps.sites.invalidate(siteId);
    const createdAt = await policyVersionCreatedAt(deps.db, siteId, version);
    return c.json({ version, policy, createdBy: actor, createdAt: createdAt?.toISOString() ?? null }, 200);
  };

  const whatIf: RouteHandler<typeof R.whatIf, AppEnv> = async (c) => {
    const { siteId } = c.req.valid('param');
    const { policy, days, limit } = c.req.valid('json');
    const issues = thresholdIssues(policy);
    if (issues.length) throw AppError.validation(issues);
    const site = await siteOr404(deps, siteId);
    const since = new Date(deps.now().getTime() - days * 86_400_000);
    const [decided, adaptive] = await Promise.all([
      recentDecided(deps.db, siteId, {
        since,
        limit,
        velocityWindowMs: deps.config.MODERATION_VELOCITY_WINDOW_SECONDS * 1000,
        duplicateWindowMs: deps.config.MODERATION_DUPLICATE_WINDOW_HOURS * 3_600_000,
      }),
      loadAdaptiveStates(deps.db, [siteId]),
    ]);
    const past: PastComment[] = decided.map((d) => ({
      comment: {
        id: d.id,
        body: d.body,
        authorName: d.authorName,
        emailHash: d.emailHash,
        ipHash: d.ipHash,
        userAgent: d.userAgent,
        referrer: d.referrer,
        parentId: d.parentId,
        signals: d.signals,
        createdAt: d.createdAt,
      },
      context: {
        siteId,
        policy: site.policy,
        policyVersion: site.policyVersion,
        article: { id: d.articleId, closed: d.articleWasClosed },
        now: d.createdAt,
        history: d.history,
        adaptive: adaptive.get(siteId),
      },
      finalDecision: d.finalDecision,
    }));
    // The built-in rules only: an external provider is not called again for a replay.
    const rules = runningRules(defaultRules);
    const report = await replay(
      rules,
      past,
      { policy: site.policy, version: site.policyVersion },
      { policy, version: site.policyVersion + 1 },
    );
    const bodies = new Map(decided.map((d) => [d.id, d.body]));
    return c.json(
      {
        total: report.total,
        reviewedByModerators: decided.filter((d) => d.reviewedByModerator).length,
        since: since.toISOString(),
        currentVersion: site.policyVersion,
        current: report.current,
        proposed: report.proposed,
        moreHeld: report.moreHeld,
        moreRejected: report.moreRejected,
        morePublished: report.proposed.published - report.current.published,
        changes: report.changes.slice(0, MAX_CHANGES).map((ch) => ({
          ...ch,
          snippet: [...(bodies.get(ch.id) ?? '')].slice(0, 160).join(''),
        })),
        changesTruncated: report.changes.length > MAX_CHANGES,
      },
      200,
    );
  };

  return { get, versions, save, whatIf };
}
