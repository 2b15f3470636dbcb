// Joining typed arrays end to end (frames' maps, batch rows, per-frame outputs).

type Typed = Float32Array | Float64Array | BigInt64Array;

/** `parts` one after another in a new array of the same kind. */
export function concatTyped<T extends Typed>(parts: readonly T[], make: (length: number) => T): T {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    (out as { set(a: T, offset: number): void }).set(p, at);
    at += p.length;
  }
  return out;
}
