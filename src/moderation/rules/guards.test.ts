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
  it('holds a body that is mostly one repeated character', () => {
    expect(repeatedCharacters.run(comment('!!!!!!!!!!!!!!!!!!!!'), ctx())).toMatchObject({ action: 'hold' });
  });
});
