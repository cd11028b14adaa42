/** Runs the ordered rules over a comment and combines their verdicts under the site's policy. */
import type { Policy } from './policy';
import type {
  CommentInput,
  ModerationContext,
  ModerationDecision,
  Outcome,
  Rule,
  RuleResult,
  Verdict,
} from './types';

const SEVERITY: Record<Outcome, number> = { publish: 0, hold: 1, reject: 2 };
const DEFAULT_BUDGET_MS = 50;

class RuleTimeout extends Error {}

function withBudget<T>(value: T | Promise<T>, ms: number): T | Promise<T> {
  if (!(value instanceof Promise)) return value;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RuleTimeout()), ms);
  });
  return Promise.race([value, timeout]).finally(() => clearTimeout(timer));
}

/** What a verdict asks for: its own action, else the category thresholds applied to its score. */
export function verdictOutcome(v: Verdict, policy: Policy): Outcome {
  if (v.action) return v.action;
  const t = policy.thresholds[v.category];
  if (!t) return 'publish';
  if (v.score >= t.reject) return 'reject';
  if (v.score >= t.hold) return 'hold';
  return 'publish';
}

function failureVerdict(rule: Rule, err: unknown): Verdict {
  const timedOut = err instanceof RuleTimeout;
  return {
    rule: rule.id,
    category: 'error',
    score: 1,
    code: timedOut ? 'rule_timeout' : 'rule_failed',
    message: timedOut
      ? `The ${rule.id} check took too long, so a person should look at this comment.`
      : `The ${rule.id} check failed, so a person should look at this comment.`,
    action: 'hold',
  };
}

function normalise(result: RuleResult): Verdict[] {
  if (!result) return [];
  return Array.isArray(result) ? result : [result];
}

/** Combines verdicts; pure, so the what-if replay and the worker decide the same way. */
export function combine(verdicts: Verdict[], policy: Policy, policyVersion: number): ModerationDecision {
  let outcome: Outcome = 'publish';
  let decisive: Verdict | undefined;
  const scores: Record<string, number> = {};
  for (const v of verdicts) {
    if (v.category !== 'error') scores[v.category] = Math.max(scores[v.category] ?? 0, v.score);
    if (v.shadow) continue;
    const o = verdictOutcome(v, policy);
    if (SEVERITY[o] > SEVERITY[outcome]) {
      outcome = o;
      decisive = v;
    }
  }
  if (policy.premoderate && outcome === 'publish') {
    const v: Verdict = {
      rule: 'premoderate',
      category: 'policy',
      score: 1,
      code: 'premoderation',
      message: 'This site holds every comment for a moderator.',
      action: 'hold',
    };
    verdicts.push(v);
    outcome = 'hold';
    decisive = v;
  }
  return { outcome, verdicts, scores, policyVersion, decisive };
}

/**
 * Runs every enabled rule in order. A rule that throws or overruns its budget holds the comment
 * and says so: a broken check never silently publishes or rejects.
 */
export async function runPipeline(
  rules: readonly Rule[],
  comment: CommentInput,
  ctx: ModerationContext,
): Promise<ModerationDecision> {
  const verdicts: Verdict[] = [];
  for (const rule of rules) {
    const sw = ctx.policy.rules[rule.id];
    if (sw?.enabled === false) continue;
    let found: Verdict[];
    try {
      found = normalise(await withBudget(rule.run(comment, ctx), rule.budgetMs ?? DEFAULT_BUDGET_MS));
    } catch (err) {
      found = [failureVerdict(rule, err)];
    }
    for (const v of found) verdicts.push(sw?.shadow ? { ...v, shadow: true } : v);
  }
  return combine(verdicts, ctx.policy, ctx.policyVersion);
}
