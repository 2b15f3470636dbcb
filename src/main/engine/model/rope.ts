// Rotary position embeddings as transformers computes them (modeling_rope_utils.py): the inverse
// frequencies of `rope_scaling` (4.x configs; `rope_parameters` in 5.x) and the factor cos and sin
// are scaled by. Static types give one table; "dynamic" (NTK) grows the base with the longest
// position of the call, so it is computed in the graph. Published checkpoints of the two families
// use "default"; "linear", "dynamic", "yarn" and "llama3" are implemented for their fine-tunes, and
// any other type is refused with the file and key.
import type { GraphBuilder } from '../graph/builder';
import type { Value } from '../graph/ir';
import { rotaryFromInvFreq } from '../graph/nn';
import type { Reader } from './config-reader';

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number; originalMaxPositions: number }
  | { type: 'yarn'; factor: number; originalMaxPositions: number; betaFast: number; betaSlow: number; attentionFactor: number; truncate: boolean }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export interface Rope {
  theta: number;
  /** Rotary dimensions: head_dim (partial rotary factors are refused). */
  dim: number;
  scaling: RopeScaling;
}

/**
 * The rope of a text_config: `rope_theta` and `rope_scaling` (type under "rope_type" or the older
 * "type"), or transformers 5's `rope_parameters` holding both. `maxPositions` is
 * max_position_embeddings, the default for the original context length.
 */
export function readRope(r: Reader, dim: number, maxPositions: number): Rope {
  const key = r.has('rope_parameters') ? 'rope_parameters' : 'rope_scaling';
  const scaling = r.has(key) ? r.child(key) : null;
  const theta = scaling !== null && key === 'rope_parameters' ? scaling.positive('rope_theta', r.positive('rope_theta')) : r.positive('rope_theta');
  r.only('partial_rotary_factor', [undefined, 1, 1.0], 'the studio rotates the whole head');
  if (scaling === null) return { theta, dim, scaling: { type: 'default' } };
  const typeKey = scaling.has('rope_type') ? 'rope_type' : 'type';
  const type = scaling.oneOf(typeKey, ['default', 'linear', 'dynamic', 'yarn', 'llama3'] as const, 'default');
  const original = scaling.positiveInt('original_max_position_embeddings', maxPositions);
  switch (type) {
    case 'default':
      return { theta, dim, scaling: { type } };
    case 'linear':
      return { theta, dim, scaling: { type, factor: scaling.atLeast('factor', 1) } };
    case 'dynamic':
      return { theta, dim, scaling: { type, factor: scaling.atLeast('factor', 1), originalMaxPositions: maxPositions } };
    case 'yarn': {
      const factor = scaling.has('factor') ? scaling.atLeast('factor', 1) : maxPositions / original;
      const mscale = scaling.optionalNumber('mscale');
      const mscaleAllDim = scaling.optionalNumber('mscale_all_dim');
      const ln = (m: number) => (factor <= 1 ? 1 : 0.1 * m * Math.log(factor) + 1);
      const attentionFactor = scaling.optionalNumber('attention_factor') ?? (mscale && mscaleAllDim ? ln(mscale) / ln(mscaleAllDim) : ln(1));
      return {
        theta, dim,
        scaling: {
          type, factor, originalMaxPositions: original, attentionFactor, truncate: scaling.bool('truncate', true),
          betaFast: scaling.optionalNumber('beta_fast') || 32, betaSlow: scaling.optionalNumber('beta_slow') || 1,
        },
      };
    }
    case 'llama3': {
      const low = scaling.positive('low_freq_factor');
      const high = scaling.positive('high_freq_factor');
      if (!(high > low)) throw scaling.error(`rope_scaling's high_freq_factor (${high}) must be above its low_freq_factor (${low})`);
      return { theta, dim, scaling: { type, factor: scaling.atLeast('factor', 1), lowFreqFactor: low, highFreqFactor: high, originalMaxPositions: scaling.positiveInt('original_max_position_embeddings') } };
    }
  }
}

/** theta^(-2i/dim) for i < dim/2, rounded to float32 as torch computes it. */
function defaultInvFreq(theta: number, dim: number): Float64Array {
  return Float64Array.from({ length: dim / 2 }, (_, i) => Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / dim))));
}

/** The inverse frequencies and cos/sin scaling of a static rope (every type but "dynamic"). */
export function staticRope(rope: Rope): { invFreq: Float64Array; attentionScaling: number } {
  const { theta, dim, scaling } = rope;
  const base = defaultInvFreq(theta, dim);
  switch (scaling.type) {
    case 'default':
    case 'dynamic':
      return { invFreq: base, attentionScaling: 1 };
    case 'linear':
      return { invFreq: base.map((f) => f / scaling.factor), attentionScaling: 1 };
    case 'llama3': {
      const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions: context } = scaling;
      const invFreq = base.map((f) => {
        const wavelen = (2 * Math.PI) / f;
        if (wavelen < context / highFreqFactor) return f;
        if (wavelen > context / lowFreqFactor) return f / factor;
        const smooth = (context / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        return (1 - smooth) * (f / factor) + smooth * f;
      });
      return { invFreq, attentionScaling: 1 };
    }
    case 'yarn': {
      const { factor, betaFast, betaSlow, originalMaxPositions, truncate } = scaling;
      // The dimension at which a frequency turns `rotations` times over the original context.
      const correctionDim = (rotations: number) => (dim * Math.log(originalMaxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
      let low = correctionDim(betaFast);
      let high = correctionDim(betaSlow);
      if (truncate) [low, high] = [Math.floor(low), Math.ceil(high)];
      low = Math.max(low, 0);
      high = Math.min(high, dim - 1);
      if (low === high) high += 0.001;
      const invFreq = base.map((f, i) => {
        const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
        const extrapolation = 1 - ramp;
        return (f / factor) * (1 - extrapolation) + f * extrapolation;
      });
      return { invFreq, attentionScaling: scaling.attentionFactor };
    }
  }
}

/**
 * cos and sin [batch, seq, dim] at `positionIds` [batch, seq] (LlamaRotaryEmbedding: the frequencies
 * repeated twice, times the attention scaling). "dynamic" raises the base to
 * theta * (factor * L / original - (factor - 1))^(dim / (dim - 2)) once the call's longest position
 * L = max(position_ids) + 1 passes the original context, as transformers does on each forward.
 */
export function rotaryTables(b: GraphBuilder, positionIds: Value, rope: Rope): { cos: Value; sin: Value } {
  return b.scope('rotary', () => {
    const half = rope.dim / 2;
    if (rope.scaling.type !== 'dynamic') {
      const { invFreq, attentionScaling } = staticRope(rope);
      return rotaryFromInvFreq(b, positionIds, b.constant('float32', [half], Array.from(invFreq)), attentionScaling);
    }
    const { factor, originalMaxPositions } = rope.scaling;
    const longest = b.add(b.reduceMax(b.cast(positionIds, 'float32'), undefined, false), 1);
    const growth = b.sub(b.mul(longest, factor / originalMaxPositions), factor - 1);
    // Within the original context growth <= 1 and the base stays theta.
    const clamped = b.where(b.greater(growth, 1), growth, b.scalar(1, 'float32'));
    const logBase = b.add(b.mul(b.log(clamped), rope.dim / (rope.dim - 2)), Math.log(rope.theta));
    const exponents = b.constant('float32', [half], Array.from({ length: half }, (_, i) => -(2 * i) / rope.dim));
    return rotaryFromInvFreq(b, positionIds, b.exp(b.mul(exponents, logBase)));
  });
}
