// Rotary inverse frequencies in float64, written out per frequency from the formulas of transformers'
// modeling_rope_utils.py (_compute_{default,linear_scaling,dynamic_ntk,yarn,llama3}_parameters),
// apart from model/rope.ts so that they check it. `seqLen` is what "dynamic" grows with.
import type { Rope } from '../../model/rope';

export function naiveInvFreq(rope: Rope, seqLen: number): { invFreq: number[]; scale: number } {
  const { theta, dim, scaling: s } = rope;
  const freqs = (base: number) => Array.from({ length: dim / 2 }, (_, i) => base ** (-(2 * i) / dim));
  switch (s.type) {
    case 'default':
      return { invFreq: freqs(theta), scale: 1 };
    case 'linear':
      return { invFreq: freqs(theta).map((f) => f / s.factor), scale: 1 };
    case 'dynamic': {
      const len = Math.max(seqLen, s.originalMaxPositions);
      const base = theta * ((s.factor * len) / s.originalMaxPositions - (s.factor - 1)) ** (dim / (dim - 2));
      return { invFreq: freqs(base), scale: 1 };
    }
    case 'llama3': {
      const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
      const highWavelen = s.originalMaxPositions / s.highFreqFactor;
      const invFreq = freqs(theta).map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen < highWavelen) return f;
        if (wavelen > lowWavelen) return f / s.factor;
        const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        return ((1 - smooth) * f) / s.factor + smooth * f;
      });
      return { invFreq, scale: 1 };
    }
    case 'yarn': {
      const correction = (rotations: number) => (dim * Math.log(s.originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
      const rawLow = correction(s.betaFast);
      const rawHigh = correction(s.betaSlow);
      const low = Math.max(s.truncate ? Math.floor(rawLow) : rawLow, 0);
      let high = Math.min(s.truncate ? Math.ceil(rawHigh) : rawHigh, dim - 1);
      if (low === high) high += 0.001;
      const invFreq = freqs(theta).map((f, i) => {
        const ramp = Math.min(Math.max((i - low) / (high - low), 0), 1);
        // ramp 0: the original frequency (extrapolation); ramp 1: divided by the factor (interpolation).
        return (f / s.factor) * ramp + f * (1 - ramp);
      });
      return { invFreq, scale: s.attentionFactor };
    }
  }
}
