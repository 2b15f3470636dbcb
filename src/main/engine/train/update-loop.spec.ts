import { describe, expect, it } from 'vitest';
import { dropoutSeed } from './update-loop';

describe('the LoRA dropout seed of a micro-batch', () => {
  it('depends on (seed, step, micro-batch) alone, and differs between any two of a run', () => {
    expect(dropoutSeed(3, 7, 1)).toBe(dropoutSeed(3, 7, 1));
    expect(dropoutSeed(0, 0, 0)).toBe(0n);
    expect(dropoutSeed(1, 2, 3)).toBe(1000003n + 2048n + 3n);
    const seen = new Set<bigint>();
    for (let step = 0; step < 200; step++) for (let micro = 0; micro < 16; micro++) seen.add(dropoutSeed(5, step, micro));
    expect(seen.size).toBe(200 * 16);
  });
});
