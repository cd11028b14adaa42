import { describe, expect, it } from 'vitest';
import { comment, ctx } from '../test-helpers';
import { bodyLength, closedArticle, repeatedCharacters } from './guards';

describe('guards', () => {
  it('rejects comments on a closed article', () => {
    expect(closedArticle.run(comment('hi'), ctx({}, { article: { id: 'a', closed: true } }))).toMatchObject({
      code: 'article_closed',
      action: 'reject',
    });
  });
  it('rejects empty and too long bodies, holds too many lines', () => {
    expect(bodyLength.run(comment('   '), ctx())).toMatchObject({ code: 'empty', action: 'reject' });
    expect(bodyLength.run(comment('x'.repeat(11)), ctx({ maxChars: 10 }))).toMatchObject({
      code: 'too_long',
    });
    expect(bodyLength.run(comment('a\nb\nc'), ctx({ maxLines: 2 }))).toMatchObject({
      code: 'too_many_lines',
      action: 'hold',
    });
    expect(bodyLength.run(comment('fine'), ctx())).toBeNull();
  });
  it('allows exactly the longest body and the most lines the policy names', () => {
    expect(bodyLength.run(comment('x'.repeat(10)), ctx({ maxChars: 10 }))).toBeNull();
    expect(bodyLength.run(comment('a\nb'), ctx({ maxLines: 2 }))).toBeNull();
  });
  it('scores a long run of one character mildly, with its span', () => {
    expect(repeatedCharacters.run(comment('so gooooooooooood'), ctx())).toEqual({
      rule: 'repeated-characters',
      category: 'spam',
      score: 0.3,
      code: 'repeated_characters',
      message: 'The comment repeats one character many times in a row.',
      spans: [{ start: 4, end: 16 }],
    });
  });
  it('starts counting a run at ten of the same character', () => {
    expect(repeatedCharacters.run(comment(`so g${'o'.repeat(9)}d`), ctx())).toBeNull();
    expect(repeatedCharacters.run(comment(`so g${'o'.repeat(10)}d`), ctx())).toMatchObject({
      spans: [{ start: 4, end: 14 }],
    });
  });
  it('holds a body that is mostly one repeated character', () => {
    expect(repeatedCharacters.run(comment('!!!!!!!!!!!!!!!!!!!!'), ctx())).toMatchObject({ action: 'hold' });
  });
});
