import { describe, expect, it } from 'vitest';
import { meanInterval, tQuantile975 } from './statistics';

/** Γ at a positive multiple of 1/2, exactly: Γ(1/2) = √π, Γ(1) = 1, Γ(x + 1) = x Γ(x). */
function gammaHalf(x: number): number {
  let g = Number.isInteger(x) ? 1 : Math.sqrt(Math.PI);
  for (let y = Number.isInteger(x) ? 1 : 0.5; y < x; y++) g *= y;
  return g;
}

/** P(T <= q) for Student's t with `df` degrees of freedom: 1/2 plus Simpson's rule over the density on [0, q]. */
function tCdf(q: number, df: number): number {
  const c = gammaHalf((df + 1) / 2) / (Math.sqrt(df * Math.PI) * gammaHalf(df / 2));
  const pdf = (t: number) => c * (1 + (t * t) / df) ** (-(df + 1) / 2);
  const steps = 20_000;
  const h = q / steps;
  let s = pdf(0) + pdf(q);
  for (let i = 1; i < steps; i++) s += (i % 2 === 1 ? 4 : 2) * pdf(i * h);
  return 0.5 + (s * h) / 3;
}

describe('the confidence interval across seeds', () => {
  it.each([1, 2, 3, 4, 5, 9, 19, 30])('uses the t quantile that leaves 2.5%% above it at %i degrees of freedom', (df) => {
    expect(tCdf(tQuantile975(df), df)).toBeCloseTo(0.975, 4);
  });

  it('is the mean plus or minus t times the standard error, and has no width from one value', () => {
    const xs = [0.1, 0.25, 0.4];
    const sd = Math.sqrt(((0.1 - 0.25) ** 2 + 0 + (0.4 - 0.25) ** 2) / 2);
    const i = meanInterval(xs)!;
    expect(i.mean).toBeCloseTo(0.25, 12);
    expect(i.high! - i.mean).toBeCloseTo(tQuantile975(2) * sd / Math.sqrt(3), 12);
    expect(i.mean - i.low!).toBeCloseTo(i.high! - i.mean, 12);
    expect(meanInterval([0.3])).toEqual({ mean: 0.3, low: null, high: null, n: 1 });
    expect(meanInterval([])).toBeNull();
  });
});
