// Composite layers against independent computations and identities (float64 reference interpreter).
import { describe, expect, it } from 'vitest';
import { gradcheck, randomTensor, rng } from '../testing/gradcheck';
import { naiveActivation, naiveActivations } from '../testing/naive/activations';
import { GraphBuilder } from './builder';
import type { Value } from './ir';
import { activationNames, activations, causalMask, geluErf, geluTanh, layerNorm, logSigmoid, rmsNorm, rotaryCosSin, selfAttention, silu, type AttentionConfig } from './nn';
import { erf, runReference, tensor64, type Tensor64 } from './reference';

// Float64 graphs, so the constants inside the composites are not rounded to float32.
const run1 = (build: (b: GraphBuilder, x: Value) => Value, x: Tensor64): Float64Array => {
  const b = new GraphBuilder();
  b.output(build(b, b.input('x', 'float64', x.dims)), 'y');
  return runReference(b.build(), { x }).y.data;
};

describe('composite layers', () => {
  const x = randomTensor(rng(3), 'float32', [3, 5]);

  it('activations match their closed forms', () => {
    const cases: [string, (b: GraphBuilder, v: Value) => Value, (v: number) => number][] = [
      ['gelu tanh', geluTanh, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))],
      ['gelu erf', geluErf, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
      ['silu', silu, (v) => v / (1 + Math.exp(-v))],
      ['log-sigmoid', logSigmoid, (v) => Math.log(1 / (1 + Math.exp(-v)))],
    ];
    for (const [name, build, f] of cases) {
      run1(build, x).forEach((y, i) => expect(y, name).toBeCloseTo(f(x.data[i]), 12));
    }
    // Every ACT2FN name a config may give, against its float64 definition, and differentiable.
    expect(activationNames.sort()).toEqual(Object.keys(naiveActivations).sort());
    for (const name of activationNames) {
      run1((b, v) => activations[name](b, v), x).forEach((y, i) => expect(y, name).toBeCloseTo(naiveActivation(name)(x.data[i]), 9));
      const b = new GraphBuilder();
      b.output(b.reduceSum(b.mul(activations[name](b, b.input('x', 'float64', x.dims)), b.constant('float64', x.dims as number[], Array.from(x.data, (_, i) => 1 + i / 7))), undefined, false), 'loss');
      const check = gradcheck(b.build(), 'loss', ['x'], { x });
      expect(check.worst, `${name}: ${check.where}`).toBeLessThanOrEqual(1);
    }
    // erf itself against known values (Abramowitz & Stegun table 7.1).
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(-2)).toBeCloseTo(-0.9953222650189527, 14);
    expect(erf(3.5)).toBeCloseTo(0.9999992569016276, 14);
  });

  it('RMSNorm and LayerNorm match direct row computations', () => {
    const w = Array.from({ length: 5 }, (_, i) => 1 + i / 10);
    const bias = Array.from({ length: 5 }, (_, i) => i / 7);
    const rms = run1((b, v) => rmsNorm(b, v, b.constant('float64', [5], w), 1e-6), x);
    const ln = run1((b, v) => layerNorm(b, v, b.constant('float64', [5], w), b.constant('float64', [5], bias), 1e-5), x);
    for (let r = 0; r < 3; r++) {
      const row = Array.from(x.data.subarray(r * 5, r * 5 + 5));
      const ms = row.reduce((s, v) => s + v * v, 0) / 5;
      const mean = row.reduce((s, v) => s + v, 0) / 5;
      const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / 5;
      row.forEach((v, i) => {
        expect(rms[r * 5 + i]).toBeCloseTo((v / Math.sqrt(ms + 1e-6)) * w[i], 12);
        expect(ln[r * 5 + i]).toBeCloseTo(((v - mean) / Math.sqrt(variance + 1e-5)) * w[i] + bias[i], 12);
      });
    }
  });

  /** Attention over [1, seq, 8] with random weights; returns the output for given positions and input. */
  function attention(cfg: AttentionConfig, seed: number, duplicateKv = false) {
    const rand = rng(seed);
    const b = new GraphBuilder();
    const h = b.input('h', 'float32', [1, 'seq', 8]);
    const pos = b.input('pos', 'int64', [1, 'seq']);
    const weight = (name: string, out: number) => b.initializer(name, 'float32', [8, out], Float32Array.from(randomTensor(rand, 'float32', [8, out]).data));
    const kvCols = (name: string) => {
      const t = randomTensor(rand, 'float32', [8, cfg.kvHeads * cfg.headDim]);
      if (!duplicateKv) return b.initializer(name, 'float32', [8, cfg.kvHeads * cfg.headDim], Float32Array.from(t.data));
      // The same KV heads repeated per query group, laid out as an MHA projection.
      const rep = cfg.heads / cfg.kvHeads;
      const cols = cfg.heads * cfg.headDim;
      const data = new Float32Array(8 * cols);
      for (let r = 0; r < 8; r++) for (let hd = 0; hd < cfg.heads; hd++) for (let d = 0; d < cfg.headDim; d++) {
        data[r * cols + hd * cfg.headDim + d] = t.data[r * cfg.kvHeads * cfg.headDim + Math.floor(hd / rep) * cfg.headDim + d];
      }
      return b.initializer(name, 'float32', [8, cols], data);
    };
    const w = { q: { weight: weight('q', cfg.heads * cfg.headDim) }, k: { weight: kvCols('k') }, v: { weight: kvCols('v') }, o: { weight: b.initializer('o', 'float32', [cfg.heads * cfg.headDim, 8], Float32Array.from(randomTensor(rand, 'float32', [cfg.heads * cfg.headDim, 8]).data)) } };
    const mhaCfg = duplicateKv ? { ...cfg, kvHeads: cfg.heads } : cfg;
    b.output(selfAttention(b, h, w, mhaCfg, { rotary: rotaryCosSin(b, pos, cfg.headDim, 10000), mask: causalMask(b, pos, pos) }), 'out');
    const g = b.build();
    return (hidden: Tensor64, positions: number[]) => runReference(g, { h: hidden, pos: tensor64('int64', [1, positions.length], positions) }).out.data;
  }

  const cfg: AttentionConfig = { heads: 4, kvHeads: 2, headDim: 4 };
  const hidden = randomTensor(rng(9), 'float32', [1, 4, 8]);

  it('GQA equals multi-head attention with each KV head repeated', () => {
    const gqa = attention(cfg, 5)(hidden, [0, 1, 2, 3]);
    const mha = attention(cfg, 5, true)(hidden, [0, 1, 2, 3]);
    mha.forEach((v, i) => expect(gqa[i]).toBeCloseTo(v, 10));
  });

  it('RoPE makes attention depend on relative positions only', () => {
    const f = attention(cfg, 6);
    const a = f(hidden, [0, 1, 2, 3]);
    const shifted = f(hidden, [7, 8, 9, 10]);
    shifted.forEach((v, i) => expect(a[i]).toBeCloseTo(v, 9));
    const notShifted = f(hidden, [0, 2, 4, 6]);
    expect(Math.max(...notShifted.map((v, i) => Math.abs(v - a[i])))).toBeGreaterThan(1e-3);
  });

  it('the causal mask hides later tokens and stays finite', () => {
    const f = attention(cfg, 7);
    const a = f(hidden, [0, 1, 2, 3]);
    const changed = { ...hidden, data: Float64Array.from(hidden.data, (v, i) => (i >= 3 * 8 ? v + 1 : v)) };
    const c = f(changed, [0, 1, 2, 3]);
    for (let i = 0; i < 3 * 8; i++) expect(c[i]).toBeCloseTo(a[i], 12);
    expect(Math.abs(c[3 * 8] - a[3 * 8])).toBeGreaterThan(1e-6);

    const b = new GraphBuilder();
    const pos = b.input('pos', 'int64', [1, 3]);
    b.output(causalMask(b, pos, pos, b.input('keep', 'int64', [1, 3])), 'mask');
    const m = runReference(b.build(), { pos: tensor64('int64', [1, 3], [0, 1, 2]), keep: tensor64('int64', [1, 3], [0, 1, 1]) }).mask.data;
    expect(Array.from(m).every(Number.isFinite)).toBe(true);
    expect(Array.from(m)).toEqual([-1e9, -1e9, -1e9, -1e9, 0, -1e9, -1e9, 0, 0]);
  });
});
