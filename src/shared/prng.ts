// A small seeded generator (mulberry32) for data that must be the same for the same seed on every
// machine (demo clips, test tensors), which Math.random cannot promise. Sampling uses Rng
// (engine/generate/sampling.ts), whose state can be saved and resumed.

/** Uniform draws in [0, 1). */
export type Uniform = () => number;

export function mulberry32(seed: number): Uniform {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
