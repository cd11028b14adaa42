import { describe, expect, it } from 'vitest';
import { comment, ctx } from '../test-helpers';
import { buildWordMatcher, siteWords } from './words';

describe('site-words', () => {
  const policy = { words: { banned: ['idiot'], suspect: ['clown'], allowed: ['idiotic'] } };

  it('rejects a banned word written in l33t, with its span in the original body', () => {
    expect(siteWords.run(comment('You 1d10t.'), ctx(policy))).toMatchObject({
      code: 'banned_word',
      action: 'reject',
      spans: [{ start: 4, end: 9 }],
    });
  });
  it('catches spaced-out letters and maps the span back', () => {
    expect(siteWords.run(comment('what an i d i o t'), ctx(policy))).toMatchObject({
      code: 'banned_word',
      spans: [{ start: 8, end: 17 }],
    });
  });
  it('holds a suspect word, plural included', () => {
    expect(siteWords.run(comment('these clowns again'), ctx(policy))).toMatchObject({
      code: 'suspect_word',
      action: 'hold',
      spans: [{ start: 6, end: 12 }],
    });
  });
  it('leaves allowed terms and unrelated words alone', () => {
    expect(siteWords.run(comment('an idiotic plan'), ctx(policy))).toBeNull();
    expect(siteWords.run(comment('Scunthorpe United won'), ctx(policy))).toBeNull();
  });
  it('takes a word as written: any case, and pattern characters as themselves', () => {
    expect(siteWords.run(comment('you idiot'), ctx({ words: { banned: ['IDIOT'] } }))).toMatchObject({
      code: 'banned_word',
    });
    const odd = ctx({ words: { banned: ['x?z'] } });
    expect(siteWords.run(comment('an xyz here'), odd)).toBeNull();
  });
  it("keeps each site's allowed terms to itself, though sites share matchers", () => {
    const body = 'a clown car arrived';
    expect(
      siteWords.run(comment(body), ctx({ words: { suspect: ['clown'], allowed: ['clown car'] } })),
    ).toBeNull();
    expect(siteWords.run(comment(body), ctx({ words: { suspect: ['clown'] } }))).toMatchObject({
      code: 'suspect_word',
    });
  });
  it('spans are UTF-16 offsets after astral characters', () => {
    expect(buildWordMatcher(['idiot']).find('😀 idiot')).toEqual([{ start: 3, end: 8 }]);
  });
  it('uses the built-in English list only when the policy asks', () => {
    expect(siteWords.run(comment('what the fuck'), ctx())).toBeNull();
    expect(siteWords.run(comment('what the fuck'), ctx({ words: { builtin: 'suspect' } }))).toMatchObject({
      code: 'suspect_word',
      spans: [{ start: 9, end: 13 }],
    });
    expect(siteWords.run(comment('what the fuck'), ctx({ words: { builtin: 'banned' } }))).toMatchObject({
      code: 'banned_word',
      action: 'reject',
      spans: [{ start: 9, end: 13 }],
    });
  });
});
