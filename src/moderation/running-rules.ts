/**
 * The rules as the running system uses them: the engine's list, with the velocity rule guarded
 * against counters that could not be read, and the external provider appended when configured.
 * Shared by the moderate worker and the what-if replay so both decide the same way.
 */
import { type ExternalProviderOptions, externalProvider } from './rules/external';
import type { Rule } from './types';

/**
 * The velocity rule stays silent when counts are missing (the pure rule cannot tell "Redis failed"
 * from "not loaded"); the worker marks counts it could not take (`ctx.extra.velocityUnavailable`),
 * and then this holds the comment and says so, under the velocity rule's own switches.
 */
export function guardVelocity(rule: Rule): Rule {
  return {
    ...rule,
    run: (c, ctx) =>
      ctx.extra?.velocityUnavailable
        ? {
            rule: rule.id,
            category: 'error',
            score: 1,
            code: 'velocity_unavailable',
            message: 'Posting-rate counters could not be read, so a person should look at this comment.',
            action: 'hold',
          }
        : rule.run(c, ctx),
  };
}

export function runningRules(rules: readonly Rule[], provider?: ExternalProviderOptions): Rule[] {
  const out = rules.map((r) => (r.id === 'velocity' ? guardVelocity(r) : r));
  if (provider?.url) out.push(externalProvider(provider));
  return out;
}
