/**
 * Optional external classifier with an OpenAI-moderation-compatible interface:
 * POST {"input": body} → {"results": [{"flagged": bool, "category_scores": {"harassment": p, ...}}]}.
 * Off by default: not in `defaultRules`; the worker appends `externalProvider(...)` when an operator
 * configures a URL. Any failure or a timeout holds the comment and says so.
 */
import type { Rule, Verdict } from '../types';

export interface ExternalProviderOptions {
  url: string;
  apiKey?: string;
  model?: string;
  /** Milliseconds to wait before holding for a human. */
  timeoutMs?: number;
  fetch?: typeof globalThis.fetch;
}

// Which of the provider's categories count as spam or as toxicity in Parley's policy.
const TOXIC_PREFIXES = ['harassment', 'hate', 'violence', 'sexual', 'self-harm', 'illicit'];

function failed(message: string): Verdict {
  return {
    rule: 'external',
    category: 'error',
    score: 1,
    code: 'external_failed',
    message: `The external classifier ${message}, so a person should look at this comment.`,
    action: 'hold',
  };
}

export function externalProvider(opts: ExternalProviderOptions): Rule {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const doFetch = opts.fetch ?? globalThis.fetch;
  return {
    id: 'external',
    // The pipeline's own budget is a backstop just behind the provider's timeout.
    budgetMs: timeoutMs + 250,
    run: async (c) => {
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), timeoutMs);
      try {
        const res = await doFetch(opts.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
          },
          body: JSON.stringify({ input: c.body, ...(opts.model ? { model: opts.model } : {}) }),
          signal: ctrl.signal,
        });
        if (!res.ok) return failed(`answered HTTP ${res.status}`);
        let body: { results?: Array<{ flagged?: boolean; category_scores?: Record<string, number> }> };
        try {
          body = (await res.json()) as typeof body;
        } catch {
          // The moderator reading the reason should not go looking for a network fault.
          return failed(
            ctrl.signal.aborted
              ? `did not answer within ${timeoutMs} ms`
              : 'answered with something that is not JSON',
          );
        }
        const result = body.results?.[0];
        if (!result?.category_scores) return failed('gave an answer without scores');
        let top = '';
        let score = 0;
        for (const [name, p] of Object.entries(result.category_scores)) {
          if (typeof p !== 'number' || !TOXIC_PREFIXES.some((t) => name.startsWith(t))) continue;
          if (p > score) {
            score = p;
            top = name;
          }
        }
        return {
          rule: 'external',
          category: 'toxicity',
          score: Math.min(1, Math.max(0, score)),
          code: top ? `external_${top.replace(/[^a-z]+/g, '_')}` : 'external_clean',
          message: top
            ? `The external classifier scores this comment ${Math.round(score * 100)}% for ${top}.`
            : 'The external classifier found nothing.',
        };
      } catch {
        return failed(ctrl.signal.aborted ? `did not answer within ${timeoutMs} ms` : 'could not be reached');
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
