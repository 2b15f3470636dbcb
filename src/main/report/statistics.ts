// The interval a study's claims are decided by: the mean of a per-seed effect with its two-sided 95%
// confidence interval from Student's t with n - 1 degrees of freedom (seeds are few, so not the
// normal's 1.96).

/** Student's t 0.975 quantiles for 1 to 30 degrees of freedom (standard tables). */
const t975 = [12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.093, 2.086, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423];

/** The 0.975 quantile of Student's t with `df` degrees of freedom (the normal's past 30). */
export function tQuantile975(df: number): number {
  if (!(Number.isInteger(df) && df >= 1)) throw new Error(`degrees of freedom must be a whole number >= 1, got ${df}`);
  return df <= t975.length ? t975[df - 1] : 1.96;
}

export interface Interval {
  mean: number;
  /** The 95% interval; null with fewer than two values. */
  low: number | null;
  high: number | null;
  n: number;
}

/** Mean of `xs` with its 95% t interval. */
export function meanInterval(xs: readonly number[]): Interval | null {
  const n = xs.length;
  if (n === 0) return null;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return { mean, low: null, high: null, n };
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const half = tQuantile975(n - 1) * sd / Math.sqrt(n);
  return { mean, low: mean - half, high: mean + half, n };
}
