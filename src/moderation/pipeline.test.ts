import { describe, expect, it } from 'vitest';
import { runPipeline } from './pipeline';
import { defaultRules } from './rules/index';
import { comment, ctx } from './test-helpers';
import type { Rule } from './types';

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
