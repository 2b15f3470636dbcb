import { describe, expect, it } from 'vitest';
import { phaseEta } from './jobs';

describe("a phase's ETA", () => {
  it('is the work left at the rate since the phase began, and starts again with a new phase', () => {
    let now = 1_000;
    const eta = phaseEta(() => now);
    expect(eta('training', 10, 110)).toBeNull();
    now += 20_000;
    // 40 steps in 20 s: 2 a second, 60 left.
    expect(eta('training', 50, 110)).toBeCloseTo(30, 9);
    now += 1_000;
    expect(eta('evaluation', 0, 10)).toBeNull();
    now += 4_000;
    expect(eta('evaluation', 2, 10)).toBeCloseTo(16, 9);
    now += 1_000;
    expect(eta('evaluation', 10, 10)).toBe(0);
  });
});
