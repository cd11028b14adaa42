/**
 * Bot signals computed by the API at submission (comment.signals): a filled honeypot field and the
 * signed form token's age. Why these: they cost a human nothing and catch most scripted posting.
 */
import type { Rule, Verdict } from '../types';

const verdict = (v: Omit<Verdict, 'rule'>): Verdict => ({ rule: 'bot-signals', ...v });

export const botSignals: Rule = {
  id: 'bot-signals',
  run: (c, ctx) => {
    const s = c.signals ?? {};
    const p = ctx.policy.bot;
    if (s.honeypot) {
      return verdict({
        category: 'spam',
        score: 1,
        code: 'honeypot',
        message: 'A hidden field that people never see was filled in, as bots do.',
        action: 'reject',
      });
    }
    if (s.formToken === 'ok' && typeof s.formAgeMs === 'number') {
      if (s.formAgeMs < p.minFormMs) {
        return verdict({
          category: 'spam',
          score: 1,
          code: 'form_too_fast',
          message: `The form was submitted ${(s.formAgeMs / 1000).toFixed(1)} s after it was shown, faster than a person types.`,
          action: 'reject',
        });
      }
      if (s.formAgeMs > p.maxFormAgeMs) {
        return verdict({
          category: 'bot',
          score: 0.6,
          code: 'form_stale',
          message:
            'The form was shown more than a day before it was submitted, so its token may be replayed.',
          action: 'hold',
        });
      }
    }
    if (s.formToken === 'missing' || s.formToken === 'invalid') {
      // Only a mild score: API clients post without the embed's token.
      return verdict({
        category: 'spam',
        score: p.tokenProblemScore,
        code: s.formToken === 'missing' ? 'form_token_missing' : 'form_token_invalid',
        message: `The comment came without a valid form token (${s.formToken}).`,
      });
    }
    return null;
  },
};
