import { describe, expect, it } from 'vitest';
import { agreementOf, type ReviewedPair } from './agreement';

const many = (count: number, pair: ReviewedPair): ReviewedPair[] => Array.from({ length: count }, () => pair);

describe('agreementOf', () => {
  it('gives Cohen\'s kappa of the textbook example: 50 items, 20 + 15 agreed, po 0.7, pe 0.5, kappa 0.4', () => {
    // Rater 1 (the judge) says A 25 times, rater 2 (a person) 30 times (Cohen's kappa, Wikipedia's worked example).
    const pairs = [
      ...many(20, { judgeChoice: 'a', pA: 0.9, person: 'a' }),
      ...many(5, { judgeChoice: 'a', pA: 0.8, person: 'b' }),
      ...many(10, { judgeChoice: 'b', pA: 0.2, person: 'a' }),
      ...many(15, { judgeChoice: 'b', pA: 0.1, person: 'b' }),
    ];
    const a = agreementOf(pairs)!;
    expect(a.n).toBe(50);
    expect(a.agreed).toBe(35);
    expect(a.percent).toBeCloseTo(0.7, 12);
    expect(a.kappa).toBeCloseTo(0.4, 12);
    expect(a.confusion.a).toEqual({ a: 20, b: 5, tie: 0, 'both-bad': 0 });
    expect(a.confusion.b).toEqual({ a: 10, b: 15, tie: 0, 'both-bad': 0 });
  });

  it('counts both-bad as a label the judge never gives, and ties as agreement when both say tie', () => {
    const a = agreementOf([
      { judgeChoice: 'tie', pA: 0.5, person: 'tie' },
      { judgeChoice: 'a', pA: 0.7, person: 'both-bad' },
      { judgeChoice: 'b', pA: 0.35, person: 'b' },
      { judgeChoice: 'a', pA: 0.95, person: 'a' },
    ])!;
    expect([a.n, a.agreed]).toEqual([4, 3]);
    // po 3/4; pe = P(a)P(a) + P(b)P(b) + P(tie)P(tie) = (2/4)(1/4) + (1/4)(1/4) + (1/4)(1/4) = 4/16.
    expect(a.kappa).toBeCloseTo((3 / 4 - 4 / 16) / (1 - 4 / 16), 12);
    expect(a.confusion.a['both-bad']).toBe(1);
    // |p(A) - 0.5|: 0, 0.2, 0.15, 0.45 -> bins [0, 0.1), [0.2, 0.3), [0.1, 0.2), [0.4, 0.5].
    expect(a.byConfidence.map((b) => [b.from, b.n, b.agreed])).toEqual([[0, 1, 1], [0.1, 1, 1], [0.2, 1, 0], [0.3, 0, 0], [0.4, 1, 1]]);
  });

  it('has no kappa when chance agreement is certain, and nothing without verdicts', () => {
    expect(agreementOf(many(3, { judgeChoice: 'a', pA: 1, person: 'a' }))).toMatchObject({ percent: 1, kappa: null });
    expect(agreementOf([])).toBeNull();
  });
});
