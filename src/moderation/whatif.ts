/**
 * What-if replay: runs past comments (with the context recorded when they were decided) through
 * the rules under two policies and reports what would change and how each agrees with the
 * moderators' final decisions. Pure apart from the rules it is given; the HTTP endpoint wraps it.
 */
import { runPipeline } from './pipeline';
import type { Policy } from './policy';
import type { CommentInput, ModerationContext, Outcome, Rule } from './types';

export interface PastComment {
  comment: CommentInput;
  /** The context as recorded at decision time; its policy is replaced by each policy compared. */
  context: ModerationContext;
  /** What the moderators finally decided (publish = approved or left published). */
  finalDecision: Outcome;
}

export interface PolicyReport {
  held: number;
  rejected: number;
  published: number;
  /** Share of comments whose outcome equals the moderators' final decision. */
  agreement: number;
  /** Share where "published or not" matches (hold and reject both count as not published). */
  publishAgreement: number;
}

export interface Change {
  id: string;
  from: Outcome;
  to: Outcome;
  moderators: Outcome;
}

export interface WhatIfReport {
  total: number;
  current: PolicyReport;
  proposed: PolicyReport;
  /** proposed minus current. */
  moreHeld: number;
  moreRejected: number;
  changes: Change[];
}

function report(outcomes: Outcome[], past: PastComment[]): PolicyReport {
  const count = (o: Outcome) => outcomes.filter((x) => x === o).length;
  const n = Math.max(1, past.length);
  return {
    held: count('hold'),
    rejected: count('reject'),
    published: count('publish'),
    agreement: outcomes.filter((o, i) => o === past[i]!.finalDecision).length / n,
    publishAgreement:
      outcomes.filter((o, i) => (o === 'publish') === (past[i]!.finalDecision === 'publish')).length / n,
  };
}

export async function whatIf(
  rules: readonly Rule[],
  past: readonly PastComment[],
  current: { policy: Policy; version: number },
  proposed: { policy: Policy; version: number },
): Promise<WhatIfReport> {
  const list = [...past];
  const a: Outcome[] = [];
  const b: Outcome[] = [];
  for (const p of list) {
    a.push(
      (
        await runPipeline(rules, p.comment, {
          ...p.context,
          policy: current.policy,
          policyVersion: current.version,
        })
      ).outcome,
    );
    b.push(
      (
        await runPipeline(rules, p.comment, {
          ...p.context,
          policy: proposed.policy,
          policyVersion: proposed.version,
        })
      ).outcome,
    );
  }
  const cur = report(a, list);
  const pro = report(b, list);
  return {
    total: list.length,
    current: cur,
    proposed: pro,
    moreHeld: pro.held - cur.held,
    moreRejected: pro.rejected - cur.rejected,
    changes: list
      .map((p, i) => ({ id: p.comment.id, from: a[i]!, to: b[i]!, moderators: p.finalDecision }))
      .filter((c) => c.from !== c.to),
  };
}
