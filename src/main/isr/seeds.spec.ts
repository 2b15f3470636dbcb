import { describe, expect, it } from 'vitest';
import { responseSeed } from './seeds';

const seed = (runSeed: number, round: number, promptId: number, sample: number, attempt: number) => responseSeed({ runSeed, round, promptId, sample, attempt });

describe('responseSeed', () => {
  it('gives the values runs have always drawn with', () => {
    // 0 * 1000003 + 1 * 10007 + 1 * 101 + 0 * 7 + 0 * 1000000007
    expect(seed(0, 1, 1, 0, 0)).toBe(10_108);
    expect(seed(0, 1, 1, 1, 0)).toBe(10_115);
    // 3 * 1000003 + 2 * 10007 + 17 * 101 + 1 * 7 = 3021747
    expect(seed(3, 2, 17, 1, 0)).toBe(3_021_747);
    // + 2 * 1000000007 = 2003021761, still below 2^31
    expect(seed(3, 2, 17, 1, 2)).toBe(2_003_021_761);
    // 3021747 + 3 * 1000000007 = 3003021768, past 2^31: 3003021768 - 2147483648
    expect(seed(3, 2, 17, 1, 3)).toBe(855_538_120);
    // The largest run seed: (2147483647 * 1000003 + 100 * 10007 + 100000 * 101 + 15 * 7 + 3 * 1000000007) mod 2^31, exact in doubles.
    expect(seed(2 ** 31 - 1, 100, 100_000, 15, 3)).toBe(862_617_175);
  });

  it('is a seed the sampler takes: a whole number in [0, 2^31)', () => {
    for (const s of [seed(0, 0, 1, 0, 0), seed(2 ** 31 - 1, 100, 100_000, 15, 3), seed(12345, 7, 4321, 9, 1)]) {
      expect(Number.isInteger(s)).toBe(true);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThan(2 ** 31);
    }
  });

  it('gives every (prompt, sample, attempt) of a round its own seed, for 5,000 prompts of 16 samples and every re-draw', () => {
    for (const [runSeed, round] of [[0, 1], [42, 3], [2 ** 31 - 1, 20]]) {
      const seen = new Set<number>();
      for (let promptId = 1; promptId <= 5000; promptId++) {
        for (let sample = 0; sample < 16; sample++) for (let attempt = 0; attempt <= 3; attempt++) seen.add(seed(runSeed, round, promptId, sample, attempt));
      }
      expect(seen.size).toBe(5000 * 16 * 4);
    }
  });
});
