import { describe, expect, it } from 'vitest';
import { combine, runPipeline, verdictOutcome } from './pipeline';
import { defaultPolicy, policySchema } from './policy';
import { defaultRules } from './rules/index';
import { comment, ctx } from './test-helpers';
import type { Rule, Verdict } from './types';

describe('pipeline with the default rules', () => {
  it('a held comment carries its reasons and spans in the decision the worker stores', async () => {
    const body = 'Only an idiot would vote for this, you moron.';
    const d = await runPipeline(defaultRules, comment(body), ctx({ words: { suspect: ['moron'] } }));
    expect(d.outcome).not.toBe('publish');
    expect(d.policyVersion).toBe(3);
    const words = d.verdicts.find((v) => v.rule === 'site-words');
    expect(words).toMatchObject({ code: 'suspect_word', spans: [{ start: 39, end: 44 }] });
    const tox = d.verdicts.find((v) => v.category === 'toxicity')!;
    expect(tox.spans!.map((s) => body.slice(s.start, s.end))).toContain('idiot');
    // The stored decision is plain JSON: it must survive a round trip unchanged.
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });
  it('publishes an ordinary comment', async () => {
    const d = await runPipeline(defaultRules, comment('Thanks for explaining the budget so clearly.'), ctx());
    expect(d.outcome).toBe('publish');
  });
  it('shadow mode records a rule without letting it decide', async () => {
    const d = await runPipeline(
      defaultRules,
      comment('http://bit.ly/x'),
      ctx({ rules: { links: { shadow: true }, classifier: { enabled: false } } }),
    );
    expect(d.verdicts.find((v) => v.code === 'shortener')).toMatchObject({ shadow: true });
    expect(d.outcome).toBe('publish');
  });
  it('a rule that throws holds the comment and says so', async () => {
    const broken: Rule = {
      id: 'broken',
      run: () => {
        throw new Error('boom');
      },
    };
    const d = await runPipeline([broken, ...defaultRules], comment('fine'), ctx());
    expect(d.outcome).toBe('hold');
    expect(d.decisive).toMatchObject({ code: 'rule_failed' });
  });
});

const v = (over: Partial<Verdict>): Verdict => ({
  rule: 'r',
  category: 'spam',
  score: 0,
  code: 'c',
  message: 'm',
  ...over,
});

describe('combining verdicts', () => {
  const { hold, reject } = defaultPolicy.thresholds.spam!;

  it("compares a score with its category's thresholds, each the lowest score that reaches it", () => {
    expect(verdictOutcome(v({ score: hold - 0.001 }), defaultPolicy)).toBe('publish');
    expect(verdictOutcome(v({ score: hold }), defaultPolicy)).toBe('hold');
    expect(verdictOutcome(v({ score: reject - 0.001 }), defaultPolicy)).toBe('hold');
    expect(verdictOutcome(v({ score: reject }), defaultPolicy)).toBe('reject');
  });

  it('lets an action overrule the score, and a category without thresholds only inform', () => {
    expect(verdictOutcome(v({ score: 0, action: 'reject' }), defaultPolicy)).toBe('reject');
    expect(verdictOutcome(v({ score: 1, action: 'publish' }), defaultPolicy)).toBe('publish');
    expect(verdictOutcome(v({ category: 'no-such-category', score: 1 }), defaultPolicy)).toBe('publish');
  });

  it('names the first verdict of the most severe outcome as the decisive one', () => {
    const verdicts = [
      v({ rule: 'a', action: 'hold' }),
      v({ rule: 'b', action: 'reject' }),
      v({ rule: 'c', action: 'reject' }),
      v({ rule: 'd', action: 'hold' }),
    ];
    const d = combine(verdicts, defaultPolicy, 7);
    expect(d).toMatchObject({ outcome: 'reject', policyVersion: 7, decisive: { rule: 'b' } });
    expect(
      combine([v({ rule: 'a', action: 'hold' }), v({ rule: 'b', action: 'hold' })], defaultPolicy, 1).decisive
        ?.rule,
    ).toBe('a');
    expect(combine([v({ score: 0.1 })], defaultPolicy, 1)).toMatchObject({
      outcome: 'publish',
      decisive: undefined,
    });
  });

  it("keeps each category's highest score, shadow verdicts included and a failed rule's left out", () => {
    const d = combine(
      [
        v({ category: 'spam', score: 0.2 }),
        v({ category: 'spam', score: 0.5 }),
        v({ category: 'toxicity', score: 0.99, shadow: true }),
        v({ category: 'error', score: 1, action: 'hold' }),
      ],
      defaultPolicy,
      1,
    );
    expect(d.scores).toEqual({ spam: 0.5, toxicity: 0.99 });
    // The shadow verdict's 0.99 would have held it; only the failure did.
    expect(d.decisive).toMatchObject({ category: 'error' });
  });

  it('premoderation holds what would have been published, and leaves a rejection a rejection', () => {
    const premoderate = policySchema.parse({ premoderate: true });
    const published = combine([v({ score: 0.1 })], premoderate, 1);
    expect(published).toMatchObject({ outcome: 'hold', decisive: { code: 'premoderation' } });
    expect(published.verdicts.map((x) => x.code)).toEqual(['c', 'premoderation']);
    const rejected = combine([v({ rule: 'x', action: 'reject' })], premoderate, 1);
    expect(rejected).toMatchObject({ outcome: 'reject', decisive: { rule: 'x' } });
    expect(rejected.verdicts).toHaveLength(1);
    const held = combine([v({ rule: 'y', action: 'hold' })], premoderate, 1);
    expect(held).toMatchObject({ outcome: 'hold', decisive: { rule: 'y' } });
  });

  it('holds a comment whose rule overruns its budget, and says it was the time', async () => {
    // It never answers, so only its budget can end this run (within the test's timeout).
    const slow: Rule = { id: 'slow', budgetMs: 20, run: () => new Promise(() => {}) };
    const d = await runPipeline([slow], comment('fine'), ctx());
    expect(d).toMatchObject({
      outcome: 'hold',
      decisive: { rule: 'slow', code: 'rule_timeout', category: 'error' },
    });
  });
});
