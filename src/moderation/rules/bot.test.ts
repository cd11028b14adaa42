import { describe, expect, it } from 'vitest';
import { comment, ctx } from '../test-helpers';
import { botSignals } from './bot';

const run = (signals: object) => botSignals.run(comment('Hello there', { signals }), ctx());

describe('bot-signals', () => {
  it('rejects a filled honeypot as spam', () => {
    expect(run({ honeypot: true, formToken: 'ok', formAgeMs: 60_000 })).toMatchObject({
      category: 'spam',
      code: 'honeypot',
      action: 'reject',
    });
  });
  it('rejects a form filled in under two seconds', () => {
    expect(run({ formToken: 'ok', formAgeMs: 900 })).toMatchObject({
      code: 'form_too_fast',
      action: 'reject',
    });
  });
  it('holds a token older than a day as stale', () => {
    expect(run({ formToken: 'ok', formAgeMs: 25 * 3600 * 1000 })).toMatchObject({
      code: 'form_stale',
      action: 'hold',
    });
  });
  it("takes the policy's limits as the last ages still allowed", () => {
    const { minFormMs, maxFormAgeMs } = ctx().policy.bot;
    expect(run({ formToken: 'ok', formAgeMs: minFormMs - 1 })).toMatchObject({ code: 'form_too_fast' });
    expect(run({ formToken: 'ok', formAgeMs: minFormMs })).toBeNull();
    expect(run({ formToken: 'ok', formAgeMs: maxFormAgeMs })).toBeNull();
    expect(run({ formToken: 'ok', formAgeMs: maxFormAgeMs + 1 })).toMatchObject({ code: 'form_stale' });
  });
  it('gives a missing token only a mild spam score and no action', () => {
    const v = run({ formToken: 'missing' });
    expect(v).toMatchObject({ category: 'spam', score: 0.3, code: 'form_token_missing' });
    expect(v).not.toHaveProperty('action');
  });
  it('says nothing about a normal submission', () => {
    expect(run({ formToken: 'ok', formAgeMs: 45_000 })).toBeNull();
  });
});
