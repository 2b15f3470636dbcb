// Choosing the next token from logits: greedy, or temperature with top-k and top-p (nucleus)
// filtering, drawn from a seeded generator so every sample is reproducible from its seed.

export interface SamplingOptions {
  /** 0 means greedy (argmax). */
  temperature: number;
  /** Keep only the k most likely tokens; 0 keeps all. */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 keeps all. */
  topP: number;
}

export const greedy: SamplingOptions = { temperature: 0, topK: 0, topP: 1 };

/** A small, fast, seedable generator (SplitMix32 seeding into xoshiro128**). */
export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** Uniform in [0, 1). */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 2 ** 32;
  }

  /** The generator state, so an interrupted run resumes with exactly the draws it would have made. */
  state(): number[] {
    return [...this.s];
  }

  static fromState(state: number[]): Rng {
    const rng = new Rng(0);
    rng.s.set(state);
    return rng;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** The distribution sampling draws from: softmax(logits / T) restricted by top-k then top-p and
 *  renormalised; as (token, probability) pairs, most likely first. */
export function samplingDistribution(logits: ArrayLike<number>, options: SamplingOptions): { token: number; p: number }[] {
  if (!(options.temperature > 0)) throw new Error('samplingDistribution needs a temperature above 0; use argmax for greedy');
  if (!(options.topP > 0 && options.topP <= 1)) throw new Error(`top_p must be in (0, 1], got ${options.topP}`);
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b] - logits[a]);
  const kept = options.topK > 0 ? order.slice(0, options.topK) : order;
  const max = logits[kept[0]];
  const weights = kept.map((i) => Math.exp((logits[i] - max) / options.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  const out: { token: number; p: number }[] = [];
  let cumulative = 0;
  for (let j = 0; j < kept.length && cumulative < options.topP; j++) {
    const p = weights[j] / total;
    out.push({ token: kept[j], p });
    cumulative += p;
  }
  const mass = out.reduce((a, b) => a + b.p, 0);
  return out.map(({ token, p }) => ({ token, p: p / mass }));
}

export function sampleToken(logits: ArrayLike<number>, options: SamplingOptions, rng: Rng): number {
  if (!(options.temperature > 0)) return argmax(logits);
  const dist = samplingDistribution(logits, options);
  let u = rng.next();
  for (const { token, p } of dist) {
    u -= p;
    if (u < 0) return token;
  }
  return dist[dist.length - 1].token;
}
