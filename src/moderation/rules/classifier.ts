/**
 * The learned text classifier as a rule: spam and toxicity scores from the shipped model, corrected
 * by the site's adaptive model when the worker passes one (ctx.adaptive). The policy's per-category
 * thresholds turn scores into hold or reject; the rule itself asks for no action.
 */
import { adaptScores } from '../adaptive';
import { type Model, scoreText, shippedModel } from '../classifier';
import type { Rule, Verdict } from '../types';

const pct = (p: number) => `${Math.round(p * 100)}%`;

export function classifierRule(model?: Model): Rule {
  return {
    id: 'classifier',
    run: (c, ctx) => {
      const base = scoreText(model ?? shippedModel(), c.body);
      const s = adaptScores(base, ctx.adaptive);
      const words = base.toxicSpans.map((sp) => `"${c.body.slice(sp.start, sp.end)}"`).join(', ');
      const out: Verdict[] = [
        {
          rule: 'classifier',
          category: 'spam',
          score: s.spam,
          code: 'spam_classifier',
          message: `The spam model gives this comment ${pct(s.spam)}.`,
        },
        {
          rule: 'classifier',
          category: 'toxicity',
          score: s.toxicity,
          code: 'toxicity_classifier',
          message: words
            ? `The toxicity model gives this comment ${pct(s.toxicity)}, mostly because of ${words}.`
            : `The toxicity model gives this comment ${pct(s.toxicity)}.`,
          ...(base.toxicSpans.length ? { spans: base.toxicSpans } : {}),
        },
      ];
      return out;
    },
  };
}

export const classifier: Rule = classifierRule();
