import { describe, expect, it } from 'vitest';
import { comment, ctx } from '../test-helpers';
import { velocity } from './velocity';

describe('velocity', () => {
  it('holds when one IP posted more than the policy allows', () => {
    const out = velocity.run(comment('hi'), ctx({ velocity: { perIp: 3 } }, { history: { recentByIp: 4 } }));
    expect(out).toEqual([
      expect.objectContaining({ code: 'ip_velocity', action: 'hold', category: 'velocity' }),
    ]);
  });
  it('allows exactly the limit, and scores a burst higher the further past it it goes', () => {
    const at = (n: number) =>
      velocity.run(comment('hi'), ctx({ velocity: { perIp: 4 } }, { history: { recentByIp: n } })) as Array<{
        score: number;
      }>;
    expect(at(4)).toEqual([]);
    // A little over a half just past the limit, one at twice the limit, and never more.
    expect(at(5)[0]?.score).toBeCloseTo(0.625);
    expect(at(8)[0]?.score).toBeCloseTo(1);
    expect(at(40)[0]?.score).toBe(1);
  });
  it('reports author and article bursts separately', () => {
    const out = velocity.run(
      comment('hi'),
      ctx({}, { history: { recentByAuthor: 7, recentByArticle: 301, recentByIp: 1 } }),
    ) as Array<{ code: string }>;
    expect(out.map((v) => v.code)).toEqual(['author_velocity', 'article_velocity']);
  });
  it('treats unknown history as nothing to say', () => {
    expect(velocity.run(comment('hi'), ctx())).toBeNull();
    expect(velocity.run(comment('hi'), ctx({}, { history: { recentByIp: 10 } }))).toEqual([]);
  });
});
