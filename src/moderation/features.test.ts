import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scoreText, shippedModel } from './classifier';
import { extractFeatures, fnv1a, IDENTITY_PLACEHOLDER, tokenize } from './features';

// Strings built from the awkward parts of Unicode: surrogate pairs, combining marks, RTL, emoji, ZWJ.
const awkward = fc
  .array(
    fc.constantFrom(
      'a',
      'É',
      'e\u0301',
      '😀',
      '👩‍👩‍👧',
      'שלום',
      'مرحبا',
      '\u200f',
      ' ',
      '.',
      '\n',
      '𝐟',
      'ｋ',
      "'",
      'idiot',
      'http://x.co/a',
      '@bob',
      '\ud800',
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));
const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  awkward,
);

describe('tokenize', () => {
  it('is deterministic and every span lies inside the body, in order', () => {
    fc.assert(
      fc.property(anyText, (body) => {
        const a = tokenize(body);
        expect(tokenize(body)).toEqual(a);
        let last = 0;
        for (const t of a) {
          expect(t.start).toBeGreaterThanOrEqual(last);
          expect(t.end).toBeGreaterThan(t.start);
          expect(t.end).toBeLessThanOrEqual(body.length);
          last = t.end;
        }
      }),
      { numRuns: 300 },
    );
  });
  it('never splits a surrogate pair at a span edge', () => {
    fc.assert(
      fc.property(anyText, (body) => {
        for (const t of tokenize(body)) {
          const before = body.charCodeAt(t.start);
          expect(
            before >= 0xdc00 &&
              before <= 0xdfff &&
              t.start > 0 &&
              body.charCodeAt(t.start - 1) >= 0xd800 &&
              body.charCodeAt(t.start - 1) <= 0xdbff,
          ).toBe(false);
        }
      }),
    );
  });
  it('handles literal edge cases', () => {
    expect(tokenize('')).toEqual([]);
    expect(tokenize('Café naïve')).toEqual([
      { text: 'café', start: 0, end: 4 },
      { text: 'naïve', start: 5, end: 10 },
    ]);
    expect(tokenize('my gay neighbour').map((t) => t.text)).toEqual([
      'my',
      IDENTITY_PLACEHOLDER,
      'neighbour',
    ]);
    expect(tokenize('see www.x.com now')[1]).toEqual({ text: '\u0001url', start: 4, end: 13 });
  });
});

describe('n-gram hashing', () => {
  it('is deterministic, in range and tied to real tokens', () => {
    fc.assert(
      fc.property(anyText, (body) => {
        const a = extractFeatures(body);
        const b = extractFeatures(body);
        expect(Array.from(a.buckets)).toEqual(Array.from(b.buckets));
        for (let i = 0; i < a.count; i++) {
          expect(a.buckets[i]!).toBeLessThan(1 << 18);
          expect(a.owner[i]!).toBeLessThan(a.tokens.length);
        }
      }),
      { numRuns: 300 },
    );
  });
  it('FNV-1a matches the published test vector', () => {
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('')).toBe(0x811c9dc5);
  });
  it('classifier scores are probabilities and explanation spans stay inside the body', () => {
    const model = shippedModel();
    fc.assert(
      fc.property(anyText, (body) => {
        const s = scoreText(model, body);
        expect(s.spam).toBeGreaterThanOrEqual(0);
        expect(s.toxicity).toBeLessThanOrEqual(1);
        for (const sp of s.toxicSpans) {
          expect(sp.start).toBeGreaterThanOrEqual(0);
          expect(sp.end).toBeLessThanOrEqual(body.length);
        }
      }),
      { numRuns: 200 },
    );
  });
  it('scores identity-swapped sentences identically', () => {
    const model = shippedModel();
    const a = scoreText(model, 'My muslim neighbour helped me.');
    const b = scoreText(model, 'My christian neighbour helped me.');
    expect(a.toxicity).toBe(b.toxicity);
    expect(a.spam).toBe(b.spam);
  });
});
