import { describe, expect, it } from 'vitest';
import { type Aggregate, type Model, scoreText, shippedModel } from './classifier';
import { extractFeatures } from './features';

const OPTIONS = { bits: 12, charMin: 3, charMax: 5 };
const JOIN = { weight: 1, perToken: 0.5, offset: -0.2, cap: 1, ceiling: 4.6 };

/**
 * A model whose sentence heads are flat (`bias` only) and whose word head marks "clown" toxic,
 * `weight` per feature of the word; `token: null` leaves the word head out of the margin.
 */
function wordModel(bias: number, token: Aggregate['token'] | null = JOIN, weight = 5): Model {
  const size = 1 << OPTIONS.bits;
  const words = new Float32Array(1 << 8);
  const f = extractFeatures('clown', OPTIONS);
  for (let i = 0; i < f.count; i++) if (f.owner[i]! >= 0) words[f.buckets[i]! & 255] = weight;
  return {
    options: OPTIONS,
    spam: { bias: 0, weights: new Float32Array(size) },
    toxicity: { bias, weights: new Float32Array(size) },
    token: { bias: -3, weights: words },
    aggregate: { perWindow: 0.5, whole: 0, ...(token ? { token } : {}) },
  };
}

describe('word head', () => {
  it('lifts a comment with a toxic word by at most `cap`, and every comment by `offset`', () => {
    const m = wordModel(0);
    const plain = scoreText(m, 'you are a nice person').toxicityMargin;
    const insult = scoreText(m, 'you are a clown').toxicityMargin;
    const flat = scoreText(wordModel(0, null), 'you are a clown').toxicityMargin;
    expect(plain).toBeCloseTo(flat + JOIN.offset, 6);
    expect(insult).toBeGreaterThan(plain);
    expect(insult - flat).toBeLessThanOrEqual(JOIN.offset + JOIN.cap + 1e-9);
  });

  it('never lifts a comment past `ceiling`, so rejects stay the sentence head’s call', () => {
    const m = wordModel(JOIN.ceiling - 0.1);
    expect(scoreText(m, 'you are a clown').toxicityMargin).toBeLessThanOrEqual(
      JOIN.ceiling + JOIN.offset + 1e-9,
    );
    const high = wordModel(JOIN.ceiling + 1);
    expect(scoreText(high, 'you are a clown').toxicityMargin).toBeCloseTo(JOIN.ceiling + 1 + JOIN.offset, 6);
  });

  it('discounts the most toxic word by the number of words, as sentences are', () => {
    // Small enough that the lift stays under the cap.
    const m = wordModel(0, JOIN, 1.1);
    const short = scoreText(m, 'clown').toxicityMargin;
    const long = scoreText(m, `clown ${'and the council met on tuesday '.repeat(6)}`).toxicityMargin;
    expect(long).toBeLessThan(short);
  });

  it('the shipped model has one, and it sees no identity term', () => {
    const model = shippedModel();
    expect(model.token).toBeDefined();
    expect(model.aggregate.token).toBeDefined();
    const a = scoreText(model, 'My gay neighbour is a clown.');
    const b = scoreText(model, 'My christian neighbour is a clown.');
    expect(a.toxicityMargin).toBe(b.toxicityMargin);
  });
});
