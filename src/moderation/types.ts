/** The moderation contract: what a rule sees, what it may say, and what the pipeline decides. */
import type { SubmissionSignals } from '../../db/schema';
import type { AdaptiveState } from './adaptive';
import type { Policy } from './policy';

export type Outcome = 'publish' | 'hold' | 'reject';

/** Characters of the body (UTF-16 offsets, end exclusive) that made a rule fire. */
export interface Span {
  start: number;
  end: number;
}

export interface Verdict {
  /** Id of the rule that produced it. */
  rule: string;
  /** spam, toxicity, or a named policy (guard, links, words, bot, newcomer, error, ...). */
  category: string;
  /** Confidence in [0, 1]; compared with the site's thresholds for the category when no action is set. */
  score: number;
  /** Stable machine-readable reason, e.g. `too_long`, `banned_word`. */
  code: string;
  /** One sentence a moderator can read. */
  message: string;
  /** What the rule asks for outright; when absent the policy thresholds decide from the score. */
  action?: Outcome;
  spans?: Span[];
  /** Recorded only: the rule runs in shadow mode and did not affect the decision. */
  shadow?: boolean;
}

export interface CommentInput {
  id: string;
  body: string;
  authorName: string;
  authorEmail?: string | null;
  emailHash?: string | null;
  ipHash?: string | null;
  userAgent?: string | null;
  referrer?: string | null;
  parentId?: string | null;
  signals: SubmissionSignals;
  createdAt: Date;
}

export interface ArticleInput {
  id: string;
  closed: boolean;
  url?: string | null;
  title?: string | null;
}

/** Everything a rule may know besides the comment; loaded at the edge (worker), passed in. */
export interface ModerationContext {
  siteId: string;
  policy: Policy;
  policyVersion: number;
  article: ArticleInput;
  now: Date;
  /** Counts the worker gathered before running the rules; absent means "unknown", not zero. */
  history?: {
    authorApproved?: number;
    authorRejected?: number;
    recentByIp?: number;
    recentByAuthor?: number;
    recentByArticle?: number;
    /** Near-duplicates of this text posted on the site within the window (other comment ids). */
    duplicates?: string[];
  };
  /**
   * The site's adaptive model (learned from its moderators' decisions, see adaptive.ts). The worker
   * loads it per site and refreshes it after `update`; absent means the shipped model alone.
   */
  adaptive?: AdaptiveState;
  /** Free-form extras for rules that need more (e.g. scores from an external provider). */
  extra?: Record<string, unknown>;
}

export type RuleResult = Verdict | Verdict[] | null | undefined;

export interface Rule {
  id: string;
  /** Milliseconds the rule may take before the comment is held for a human instead. */
  budgetMs?: number;
  run(comment: CommentInput, ctx: ModerationContext): RuleResult | Promise<RuleResult>;
}

export interface ModerationDecision {
  outcome: Outcome;
  /** Every verdict, shadow ones included, in rule order. */
  verdicts: Verdict[];
  /** Highest score seen per category. */
  scores: Record<string, number>;
  policyVersion: number;
  /** The verdict that decided it (first of the most severe), if any. */
  decisive?: Verdict;
}
