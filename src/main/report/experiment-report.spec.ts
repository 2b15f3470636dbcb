import { describe, expect, it } from 'vitest';
import type { ModeFigures, RoundFigures } from '../isr/experiment';
import { claims, judgeVerdict, lengthVerdict, pooledModes } from './experiment-report';
import { meanInterval } from './statistics';

const interval = (low: number, high: number) => ({ mean: (low + high) / 2, low, high, n: 3 });

describe("the study's decision rule", () => {
  it('decides claim 1 by where the interval of the effect lies: above 0, below 5 points, or across', () => {
    expect(judgeVerdict(interval(0.01, 0.3))).toBe('reproduced');
    expect(judgeVerdict(interval(-0.2, 0.04))).toBe('not reproduced');
    expect(judgeVerdict(interval(-0.05, 0.2))).toBe('not decidable at this size');
    expect(judgeVerdict({ mean: 0.4, low: null, high: null, n: 1 })).toBe('not decidable at this size');
    expect(judgeVerdict(null)).toBe('not decidable at this size');
  });

  it('decides claim 2 only where the language-only judge drifted long', () => {
    const drift = interval(0.2, 1.5);
    expect(lengthVerdict(interval(0.1, 2), drift)).toBe('reproduced');
    expect(lengthVerdict(interval(-0.5, 0.4), drift)).toBe('not reproduced');
    expect(lengthVerdict(interval(-0.5, 1), drift)).toBe('not decidable at this size');
    // No drift to stop: whatever the effect, the claim cannot be tested here.
    expect(lengthVerdict(interval(0.1, 2), interval(-0.3, 0.8))).toBe('not decidable at this size');
    expect(lengthVerdict(interval(-0.5, 0.4), interval(-0.3, 0.8))).toBe('not decidable at this size');
  });
});

const round = (r: number, over: Partial<RoundFigures> = {}): RoundFigures => ({
  round: r, accuracy: null, meanWords: null, responseWords: null, pairs: 0, ties: 0, decided: 0, judgeRight: 0, judgeTies: 0,
  judgeAccuracy: null, leanRight: 0, leaning: 0, preferLonger: null, visualShare: null, ...over,
});

describe('a study of several seeds', () => {
  // Two seeds of two modes; judge counts per seed chosen so each seed's accuracy is easy to state.
  const figures: ModeFigures[] = [
    { runId: 1, mode: 'isr', seed: 1, rounds: [round(0, { meanWords: 2, accuracy: 0.4 }), round(1, { meanWords: 2.5, accuracy: 0.5, decided: 10, judgeRight: 8 })] },
    { runId: 2, mode: 'text-judge', seed: 1, rounds: [round(0, { meanWords: 2, accuracy: 0.4 }), round(1, { meanWords: 4, accuracy: 0.3, decided: 10, judgeRight: 5 })] },
    { runId: 3, mode: 'isr', seed: 2, rounds: [round(0, { meanWords: 2, accuracy: 0.4 }), round(1, { meanWords: 2, accuracy: 0.45, decided: 20, judgeRight: 14, judgeTies: 4 })] },
    { runId: 4, mode: 'text-judge', seed: 2, rounds: [round(0, { meanWords: 2, accuracy: 0.4 }), round(1, { meanWords: 3, accuracy: 0.35, decided: 20, judgeRight: 10 })] },
  ];

  it('pools each mode over its seeds: counts summed, rates averaged', () => {
    const [isr, text] = pooledModes(figures);
    expect([isr.mode, isr.seeds, text.mode, text.seeds]).toEqual(['isr', [1, 2], 'text-judge', [1, 2]]);
    const r1 = isr.rounds.find((r) => r.round === 1)!;
    expect([r1.decided, r1.judgeRight, r1.judgeTies]).toEqual([30, 22, 4]);
    expect(r1.judgeAccuracy).toBeCloseTo(22 / 26, 12);
    expect(r1.accuracy).toBeCloseTo(0.475, 12);
  });

  it("states each claim's effect per seed and its interval, and the verdict the rule gives", () => {
    const { lines, verdicts } = claims(figures);
    // Claim 1 per seed: 8/10 - 5/10 = 0.3 and 14/16 - 10/20 = 0.375.
    const judge = meanInterval([0.3, 0.375])!;
    const points = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} points`;
    expect(lines.join('\n')).toContain(`${points(judge.mean)} [${points(judge.low!)}, ${points(judge.high!)}] across 2 seed(s) (seed 1 +30.0 points, seed 2 +37.5 points)`);
    expect(verdicts[0]).toMatch(new RegExp(`Verdict: ${judgeVerdict(judge)}\\.$`));
    // Claim 2 per seed: text-judge grew 2 and 1 words, isr 0.5 and 0.
    expect(lines.join('\n')).toContain('(seed 1 +1.50 words, seed 2 +1.00 words)');
    expect(verdicts[1]).toMatch(new RegExp(`Verdict: ${lengthVerdict(meanInterval([1.5, 1]), meanInterval([2, 1]))}\\.$`));
  });
});
