import { describe, expect, it } from 'vitest';
import { argmax, greedy, Rng, sampleToken, samplingDistribution } from './sampling';

const logits = Float32Array.from([2.0, 0.5, -1.0, 1.5, 0.0]);
const softmax = (xs: number[], t = 1) => {
  const e = xs.map((x) => Math.exp(x / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

describe('sampling', () => {
  it('is greedy at temperature 0', () => {
    expect(sampleToken(logits, greedy, new Rng(1))).toBe(0);
    expect(argmax([0, 3, 3, 1])).toBe(1);
  });

  it('draws uniform numbers in [0, 1) reproducibly from a seed, and resumes from its state', () => {
    const a = new Rng(42);
    const draws = Array.from({ length: 1000 }, () => a.next());
    expect(draws.every((u) => u >= 0 && u < 1)).toBe(true);
    expect(Math.abs(draws.reduce((x, y) => x + y, 0) / 1000 - 0.5)).toBeLessThan(0.05);
    expect(new Rng(42).next()).toBe(draws[0]);
    expect(new Rng(43).next()).not.toBe(draws[0]);
    const b = new Rng(7);
    b.next();
    const resumed = Rng.fromState(b.state());
    expect([resumed.next(), resumed.next()]).toEqual([b.next(), b.next()]);
  });

  it('with no filtering is softmax(logits / T)', () => {
    for (const t of [0.5, 1, 2]) {
      const dist = samplingDistribution(logits, { temperature: t, topK: 0, topP: 1 });
      const ref = softmax([...logits], t);
      for (const { token, p } of dist) expect(p).toBeCloseTo(ref[token], 6);
    }
  });

  it('keeps the k best with top-k, and the smallest set reaching p with top-p, renormalised', () => {
    const k2 = samplingDistribution(logits, { temperature: 1, topK: 2, topP: 1 });
    expect(k2.map((d) => d.token)).toEqual([0, 3]);
    const e = [Math.exp(2), Math.exp(1.5)];
    expect(k2[0].p).toBeCloseTo(e[0] / (e[0] + e[1]), 6);
    const ref = softmax([...logits]);
    // Sorted: token 0 (0.46), 3 (0.28), 1 (0.10), 4 (0.06), 2 (0.02): 0.7 needs the first two, 0.75 the third.
    expect(samplingDistribution(logits, { temperature: 1, topK: 0, topP: ref[0] + ref[3] - 1e-6 }).map((d) => d.token)).toEqual([0, 3]);
    expect(samplingDistribution(logits, { temperature: 1, topK: 0, topP: ref[0] + ref[3] + 1e-6 }).map((d) => d.token)).toEqual([0, 3, 1]);
    expect(() => samplingDistribution(logits, { temperature: 1, topK: 0, topP: 0 })).toThrow(/top_p/);
  });

  it('draws tokens with the frequencies of its distribution', () => {
    const options = { temperature: 0.7, topK: 4, topP: 0.95 };
    const dist = samplingDistribution(logits, options);
    const rng = new Rng(3);
    const n = 20000;
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const t = sampleToken(logits, options, rng);
      counts.set(t, (counts.get(t) ?? 0) + 1);
    }
    expect([...counts.keys()].every((t) => dist.some((d) => d.token === t))).toBe(true);
    for (const { token, p } of dist) {
      const sd = Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs((counts.get(token) ?? 0) / n - p)).toBeLessThan(5 * sd + 1e-9);
    }
  });
});
