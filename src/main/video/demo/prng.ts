// Draws for the demo scenes from the shared seeded generator.
import { mulberry32 } from '../../../shared/prng';

export { mulberry32 };
export type Rng = () => number;

/** An integer in [lo, hi], both included. */
export function int(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}
