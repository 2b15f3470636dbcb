/** The upper middle of `xs` (the middle of an odd count): what the per-item benches report. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
