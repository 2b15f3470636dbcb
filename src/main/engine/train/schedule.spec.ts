import { describe, expect, it } from 'vitest';
import { lrAt, lrFactor, warmupSteps, type Schedule } from './schedule';

describe('learning-rate schedules (transformers optimization.py)', () => {
  const cosine: Schedule = { kind: 'cosine', lr: 5e-5, warmupSteps: 10, totalSteps: 100 };
  const linear: Schedule = { ...cosine, kind: 'linear' };

  it('warms up linearly from 0, the first update included', () => {
    for (const s of [cosine, linear, { ...cosine, kind: 'constant' as const }]) {
      expect(lrAt(s, 0)).toBe(0);
      expect(lrAt(s, 3)).toBeCloseTo(5e-5 * 0.3, 18);
      expect(lrAt(s, 10)).toBe(5e-5);
    }
  });

  it('cosine: 0.5 (1 + cos(pi progress)) after warmup', () => {
    expect(lrFactor(cosine, 40)).toBeCloseTo(0.75, 15); // progress 1/3
    expect(lrFactor(cosine, 55)).toBeCloseTo(0.5, 15); // progress 1/2
    expect(lrFactor(cosine, 70)).toBeCloseTo(0.25, 15); // progress 2/3
    expect(lrAt({ ...cosine, totalSteps: 110 }, 35)).toBeCloseTo(5e-5 * 0.5 * (1 + Math.SQRT1_2), 18); // progress 1/4
    expect(lrFactor(cosine, 100)).toBe(0);
  });

  it('linear: (total - step) / (total - warmup), floored at 0', () => {
    expect(lrFactor(linear, 55)).toBe(0.5);
    expect(lrFactor(linear, 91)).toBeCloseTo(0.1, 15);
    expect(lrFactor(linear, 100)).toBe(0);
    expect(lrFactor(linear, 120)).toBe(0);
  });

  it('constant after warmup; no warmup starts at the peak', () => {
    expect(lrFactor({ ...cosine, kind: 'constant' }, 99)).toBe(1);
    expect(lrFactor({ ...cosine, warmupSteps: 0 }, 0)).toBe(1);
  });

  it('warmup steps from a ratio round up as the Trainer does (in float64, so 0.07 x 100 gives 8)', () => {
    expect(warmupSteps(0.1, 95)).toBe(10);
    expect(warmupSteps(0.07, 100)).toBe(8);
    expect(warmupSteps(0, 30)).toBe(0);
  });
});
