// RoPE scaling against identities of transformers' definitions (modeling_rope_utils.py) rather than
// against a second copy of the formulas: linear scaling is the unscaled rope at position / factor,
// dynamic NTK is the unscaled rope with a grown base (and nothing within the original context),
// llama3 and YaRN keep the high frequencies and divide the low ones by the factor.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graph/builder';
import { rotaryCosSin } from '../graph/nn';
import { serialize } from '../graph/onnx';
import { Session } from '../graph/session';
import { Reader, type Json } from './config-reader';
import { readRope, rotaryTables, staticRope, type Rope } from './rope';

const file = '/models/x/config.json';
const read = (text: Json) => readRope(new Reader(file, text, 'text_config.', { rope_theta: 10000 }), 64, 2048);

/** cos and sin [1, positions, dim] of a rope (or the unscaled one of `theta`) at `positions`, in ONNX Runtime. */
async function tables(positions: number[], rope: Rope | { theta: number; dim: number }): Promise<{ cos: Float32Array; sin: Float32Array }> {
  const b = new GraphBuilder('rope');
  const ids = b.input('position_ids', 'int64', [1, positions.length]);
  const { cos, sin } = 'scaling' in rope ? rotaryTables(b, ids, rope) : rotaryCosSin(b, ids, rope.dim, rope.theta);
  b.output(cos, 'cos');
  b.output(sin, 'sin');
  const session = await Session.create(serialize(b.build()), { graphName: 'rope' });
  try {
    const out = await session.run({ position_ids: new ort.Tensor('int64', BigInt64Array.from(positions, BigInt), [1, positions.length]) });
    return { cos: out.cos.data as Float32Array, sin: out.sin.data as Float32Array };
  } finally {
    await session.release();
  }
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('reading rope_scaling', () => {
  it('reads the 4.x keys (rope_type, or the older type) and transformers 5\'s rope_parameters', () => {
    expect(read({}).scaling).toEqual({ type: 'default' });
    expect(read({ rope_theta: 5e5, rope_scaling: { type: 'linear', factor: 2.0 } })).toEqual({ theta: 5e5, dim: 64, scaling: { type: 'linear', factor: 2 } });
    expect(read({ rope_scaling: { rope_type: 'dynamic', factor: 4.0 } }).scaling).toEqual({ type: 'dynamic', factor: 4, originalMaxPositions: 2048 });
    expect(read({ rope_parameters: { rope_type: 'default', rope_theta: 1e6 } })).toEqual({ theta: 1e6, dim: 64, scaling: { type: 'default' } });
    // Llama 3.1's published rope_scaling.
    expect(read({ rope_theta: 5e5, rope_scaling: { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 8192 } }).scaling)
      .toEqual({ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
  });

  it('gives YaRN the paper\'s attention factor, DeepSeek\'s mscale ratio, and beta 32 / 1 by default', () => {
    const yarn = read({ rope_scaling: { rope_type: 'yarn', factor: 4.0, original_max_position_embeddings: 512 } }).scaling;
    expect(yarn).toEqual({ type: 'yarn', factor: 4, originalMaxPositions: 512, betaFast: 32, betaSlow: 1, attentionFactor: 0.1 * Math.log(4) + 1, truncate: true });
    const deepseek = read({ rope_scaling: { rope_type: 'yarn', factor: 40.0, mscale: 1.0, mscale_all_dim: 0.707 } }).scaling;
    expect(deepseek).toMatchObject({ originalMaxPositions: 2048, attentionFactor: (0.1 * Math.log(40) + 1) / (0.1 * 0.707 * Math.log(40) + 1) });
  });

  it('refuses what it does not implement, naming the file and the key', () => {
    expect(() => read({ rope_scaling: { rope_type: 'longrope', short_factor: [1], long_factor: [1] } })).toThrow(`${file}: "text_config.rope_scaling.rope_type" must be one of`);
    expect(() => read({ rope_scaling: { type: 'linear', factor: 0.5 } })).toThrow(`${file}: "text_config.rope_scaling.factor" must be a number of at least 1; got 0.5`);
    expect(() => read({ rope_scaling: { rope_type: 'llama3', factor: 8.0 } })).toThrow(`${file}: "text_config.rope_scaling.low_freq_factor" must be a positive number; it is missing`);
    expect(() => read({ partial_rotary_factor: 0.5 })).toThrow(`${file}: "text_config.partial_rotary_factor" 0.5 is not supported`);
  });
});

describe('rope scaling', () => {
  const theta = 10000;
  const dim = 16;
  const positions = Array.from({ length: 24 }, (_, i) => i);

  it('linear: the rope at position p is the unscaled rope at p / factor', async () => {
    const scaled = await tables(positions.map((p) => 2 * p), { theta, dim, scaling: { type: 'linear', factor: 2 } });
    const plain = await tables(positions, { theta, dim });
    expect(maxDiff(scaled.cos, plain.cos)).toBeLessThan(1e-5);
    expect(maxDiff(scaled.sin, plain.sin)).toBeLessThan(1e-5);
  });

  it('dynamic: the unscaled rope within the original context, past it the rope of base theta (factor L / original - factor + 1)^(dim / (dim - 2))', async () => {
    const rope: Rope = { theta, dim, scaling: { type: 'dynamic', factor: 3, originalMaxPositions: 16 } };
    const within = positions.slice(0, 16);
    expect(maxDiff((await tables(within, rope)).cos, (await tables(within, { theta, dim })).cos)).toBeLessThan(1e-6);
    const longest = positions.length;
    const grown = theta * ((3 * longest) / 16 - 2) ** (dim / (dim - 2));
    const past = await tables(positions, rope);
    const expected = await tables(positions, { theta: grown, dim });
    expect(maxDiff(past.cos, expected.cos)).toBeLessThan(1e-5);
    expect(maxDiff(past.sin, expected.sin)).toBeLessThan(1e-5);
  });

  it('llama3 (Llama 3.1\'s parameters): wavelengths under 8192 / 4 kept, over 8192 divided by 8, the band between interpolated', () => {
    const rope: Rope = { theta: 5e5, dim: 128, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 } };
    const base = staticRope({ theta: 5e5, dim: 128, scaling: { type: 'default' } }).invFreq;
    const scaled = staticRope(rope).invFreq;
    let seen = { kept: 0, divided: 0, between: 0 };
    base.forEach((f, i) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < 2048) {
        expect(scaled[i]).toBe(f);
        seen = { ...seen, kept: seen.kept + 1 };
      } else if (wavelen > 8192) {
        expect(scaled[i]).toBeCloseTo(f / 8, 15);
        seen = { ...seen, divided: seen.divided + 1 };
      } else {
        expect(scaled[i]).toBeLessThan(f);
        expect(scaled[i]).toBeGreaterThan(f / 8);
        seen = { ...seen, between: seen.between + 1 };
      }
    });
    expect(seen.kept > 0 && seen.divided > 0 && seen.between > 0).toBe(true);
  });

  it('yarn: below the ramp the original frequencies, above it divided by the factor, cos and sin times the attention factor', async () => {
    const rope: Rope = { theta, dim: 64, scaling: { type: 'yarn', factor: 4, originalMaxPositions: 4096, betaFast: 32, betaSlow: 1, attentionFactor: 1.2, truncate: true } };
    const base = staticRope({ theta, dim: 64, scaling: { type: 'default' } }).invFreq;
    const { invFreq, attentionScaling } = staticRope(rope);
    expect(attentionScaling).toBe(1.2);
    // The ramp runs between the dimensions turning 32 and 1 times over the original context.
    const dimFor = (rotations: number) => (64 * Math.log(4096 / (rotations * 2 * Math.PI))) / (2 * Math.log(theta));
    const [low, high] = [Math.floor(dimFor(32)), Math.ceil(dimFor(1))];
    expect(low).toBeGreaterThan(0);
    expect(high).toBeLessThan(32);
    base.forEach((f, i) => {
      if (i <= low) expect(invFreq[i]).toBeCloseTo(f, 15);
      if (i >= high) expect(invFreq[i]).toBeCloseTo(f / 4, 15);
    });
    const scaled = await tables(positions, rope);
    const unscaled = await tables(positions, { theta, dim: 64, scaling: { type: 'linear', factor: 1 } });
    // Frequency 0 is never scaled: its cos column is exactly the attention factor times the unscaled one.
    for (const p of positions) expect(scaled.cos[p * 64]).toBeCloseTo(1.2 * unscaled.cos[p * 64], 5);
  });
});
