// Draws for the demo scenes from the shared seeded generator.
import { mulberry32, type Uniform } from '../../../shared/prng';

export { mulberry32, type Uniform };

/** An integer in [lo, hi], both included. */
export function int(rng: Uniform, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function pick<T>(rng: Uniform, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}
