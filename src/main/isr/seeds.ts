// The seed of each sampled response: a fixed function of the run's seed and the sample's place, so
// a resumed round draws exactly what an uninterrupted one would have drawn.

export interface SamplePlace {
  /** The run's settings.seed. */
  runSeed: number;
  round: number;
  promptId: number;
  /** k of the K samples of the prompt. */
  sample: number;
  /** Re-draws after a sample came out identical to one before it (0 for the first draw). */
  attempt: number;
}

/**
 * A seed in [0, 2^31) for the sampler. Each coordinate has its own odd multiplier (primes, the
 * largest for the attempt, so a re-draw lands far from every first draw); the sum is taken in
 * doubles, as it always has been, and reduced mod 2^31. Changing any constant changes every run's data.
 * Within a round every (prompt, sample, attempt) has its own seed (seeds.spec.ts); seeds of different
 * rounds can coincide (round 1 prompt 299 sample 0 and round 4 prompt 1 sample 11 share one), which
 * is harmless: each round samples from another policy.
 */
export function responseSeed(p: SamplePlace): number {
  const seed = p.runSeed * 1_000_003 + p.round * 10_007 + p.promptId * 101 + p.sample * 7 + p.attempt * 1_000_000_007;
  return seed % 2 ** 31;
}
