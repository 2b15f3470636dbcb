// Whole-block checks: attention with RoPE and GQA, a SwiGLU MLP, a SigLIP encoder layer and the
// cross-entropy of a tiny decoder. Gradients w.r.t. LoRA factors (x @ A @ B added to q and v, or to
// the MLP) match central differences in float64, and ONNX Runtime float32 matches the reference.
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graph/builder';
import type { Graph, Value } from '../graph/ir';
import {
  causalMask, crossEntropy, decoderLayer, rmsNorm, rotaryCosSin, selfAttention, gatedMlp, visionEncoderLayer,
  type AttentionConfig, type AttentionWeights, type Projection,
} from '../graph/nn';
import { serialize } from '../graph/onnx';
import { runReference, type Tensor64 } from '../graph/reference';
import { differentiate } from './differentiate';
import { gradcheck, randomTensor, relativeError, rng } from '../testing/gradcheck';
import { createOrtSession, runOrt } from '../testing/ort-check';

interface Setup { graph: Graph; feeds: Record<string, Tensor64>; wrt: string[] }

/** Random frozen weights as initializers, LoRA factors as graph inputs (what gets differentiated). */
class Params {
  readonly feeds: Record<string, Tensor64> = {};
  readonly wrt: string[] = [];
  constructor(readonly b: GraphBuilder, readonly rand: () => number) {}
  weight(name: string, dims: number[], scale = 0.4, offset = 0): Value {
    const t = randomTensor(this.rand, 'float32', dims);
    return this.b.initializer(name, 'float32', dims, Float32Array.from(t.data, (v) => offset + scale * v));
  }
  input(name: string, dims: (number | string)[], runtime: number[], fill: 'normal' | { int: [number, number] } = 'normal'): Value {
    const dtype = fill === 'normal' ? 'float32' : 'int64';
    this.feeds[name] = randomTensor(this.rand, dtype, runtime, fill);
    return this.b.input(name, dtype, dims);
  }
  linear(name: string, inDim: number, outDim: number, opts: { bias?: boolean; rank?: number } = {}): Projection {
    const p: Projection = { weight: this.weight(`${name}.weight`, [inDim, outDim]) };
    if (opts.bias) p.bias = this.weight(`${name}.bias`, [outDim]);
    if (opts.rank !== undefined) {
      const a = this.input(`${name}.lora_A`, [inDim, opts.rank], [inDim, opts.rank]);
      const up = this.input(`${name}.lora_B`, [opts.rank, outDim], [opts.rank, outDim]);
      this.wrt.push(a.name, up.name);
      p.lora = { a, b: up, scale: 0.5 };
    }
    return p;
  }
  /** loss = <out, w> with a random cotangent w fed as an input of the output's runtime shape. */
  finish(out: Value, runtime: number[]): Setup {
    const w = this.input('cotangent', [...out.shape], runtime);
    this.b.output(this.b.reduceSum(this.b.mul(out, w), undefined, false), 'loss');
    this.b.output(out, 'out');
    return { graph: this.b.build(), feeds: this.feeds, wrt: this.wrt };
  }
}

const [B, S, HIDDEN] = [2, 3, 8];
const gqa: AttentionConfig = { heads: 4, kvHeads: 2, headDim: 2 };

/** q/k/v/o weights with LoRA factors on q and v, as PEFT's default target modules. */
function attentionWeights(p: Params, cfg: AttentionConfig, hidden: number, prefix = '', bias = false): AttentionWeights {
  return {
    q: p.linear(`${prefix}q_proj`, hidden, cfg.heads * cfg.headDim, { rank: 2, bias }),
    k: p.linear(`${prefix}k_proj`, hidden, cfg.kvHeads * cfg.headDim, { bias }),
    v: p.linear(`${prefix}v_proj`, hidden, cfg.kvHeads * cfg.headDim, { rank: 2, bias }),
    o: p.linear(`${prefix}o_proj`, cfg.heads * cfg.headDim, hidden, { bias }),
  };
}

function attentionBlock(seed: number): Setup {
  const p = new Params(new GraphBuilder('attention'), rng(seed));
  const { b } = p;
  const hidden = p.input('hidden', ['batch', 'seq', HIDDEN], [B, S, HIDDEN]);
  const pos = b.input('position_ids', 'int64', ['batch', 'seq']);
  p.feeds.position_ids = { dtype: 'int64', dims: [B, S], data: Float64Array.from([0, 1, 2, 3, 4, 5]) };
  const rotary = rotaryCosSin(b, pos, gqa.headDim, 10000);
  const out = selfAttention(b, hidden, attentionWeights(p, gqa, HIDDEN), gqa, { rotary, mask: causalMask(b, pos, pos) });
  return p.finish(out, [B, S, HIDDEN]);
}

function mlpBlock(seed: number): Setup {
  const p = new Params(new GraphBuilder('mlp'), rng(seed));
  const x = p.input('hidden', ['batch', 'seq', HIDDEN], [B, S, HIDDEN]);
  p.wrt.push('hidden');
  const out = gatedMlp(p.b, x, { gate: p.linear('gate', HIDDEN, 12), up: p.linear('up', HIDDEN, 12, { rank: 2 }), down: p.linear('down', 12, HIDDEN, { rank: 2 }) });
  return p.finish(out, [B, S, HIDDEN]);
}

function visionBlock(seed: number): Setup {
  const p = new Params(new GraphBuilder('siglip'), rng(seed));
  const cfg = { heads: 2, kvHeads: 2, headDim: 4, lnEps: 1e-6 };
  const x = p.input('hidden', ['batch', 4, HIDDEN], [B, 4, HIDDEN]);
  const norm = (n: string) => ({ weight: p.weight(`${n}.weight`, [HIDDEN], 0.2, 1), bias: p.weight(`${n}.bias`, [HIDDEN], 0.1) });
  const out = visionEncoderLayer(p.b, x, {
    ...attentionWeights(p, cfg, HIDDEN, '', true), norm1: norm('layer_norm1'), norm2: norm('layer_norm2'),
    fc1: p.linear('fc1', HIDDEN, 16, { bias: true }), fc2: p.linear('fc2', 16, HIDDEN, { bias: true }),
  }, cfg);
  return p.finish(out, [B, 4, HIDDEN]);
}

const VOCAB = 11;
function tinyDecoder(seed: number, layers = 2): Setup {
  const p = new Params(new GraphBuilder('decoder'), rng(seed));
  const { b } = p;
  const cfg = { ...gqa, rmsEps: 1e-6 };
  const ids = p.input('input_ids', ['batch', 'seq'], [B, S], { int: [0, VOCAB - 1] });
  const labels = p.input('labels', ['batch', 'seq'], [B, S], { int: [0, VOCAB - 1] });
  const pos = b.input('position_ids', 'int64', ['batch', 'seq']);
  p.feeds.position_ids = { dtype: 'int64', dims: [B, S], data: Float64Array.from([0, 1, 2, 0, 1, 2]) };
  const embed = p.weight('embed_tokens.weight', [VOCAB, HIDDEN], 1);
  let h = b.scope('embed_tokens', () => b.gather(embed, ids, 0));
  const rotary = rotaryCosSin(b, pos, cfg.headDim, 10000);
  const mask = causalMask(b, pos, pos);
  for (let l = 0; l < layers; l++) {
    h = b.scope(`layers.${l}`, () => {
      const norm = (n: string) => p.weight(`layers.${l}.${n}.weight`, [HIDDEN], 0.2, 1);
      return decoderLayer(b, h, {
        ...attentionWeights(p, cfg, HIDDEN, `layers.${l}.`), inputNorm: norm('input_layernorm'), postNorm: norm('post_attention_layernorm'),
        gate: p.linear(`layers.${l}.gate`, HIDDEN, 12), up: p.linear(`layers.${l}.up`, HIDDEN, 12), down: p.linear(`layers.${l}.down`, 12, HIDDEN),
      }, cfg, { rotary, mask });
    });
  }
  const logits = b.scope('lm_head', () => b.matmul(rmsNorm(b, h, p.weight('norm.weight', [HIDDEN], 0.2, 1), cfg.rmsEps), p.weight('lm_head.weight', [HIDDEN, VOCAB])));
  b.output(crossEntropy(b, logits, labels), 'loss');
  return { graph: b.build(), feeds: p.feeds, wrt: p.wrt };
}

const blocks: [string, (seed: number) => Setup][] = [
  ['attention with RoPE and GQA', attentionBlock],
  ['SwiGLU MLP', mlpBlock],
  ['SigLIP encoder layer', visionBlock],
  ['tiny decoder cross-entropy', (seed) => tinyDecoder(seed)],
];

describe('block gradients', () => {
  it.each(blocks)('%s: LoRA gradients match central differences in float64', (_name, make) => {
    const { graph, feeds, wrt } = make(7);
    expect(wrt.length).toBeGreaterThan(0);
    const r = gradcheck(graph, 'loss', wrt, feeds, { rtol: 1e-5, atol: 1e-7 });
    expect(r.worst, r.where).toBeLessThanOrEqual(1);
    // Non-trivial: the gradients are not all zero.
    expect(Object.values(r.analytic).some((t) => t.data.some((v) => Math.abs(v) > 1e-4))).toBe(true);
  });

  it.each(blocks)('%s: ONNX Runtime float32 matches the reference, outputs and gradients', async (_name, make) => {
    const { graph, feeds, wrt } = make(11);
    const gradGraph = differentiate(graph, { loss: 'loss', wrt });
    const expected = runReference(gradGraph, feeds);
    const got = await runOrt(await createOrtSession(serialize(gradGraph)), gradGraph, feeds);
    for (const o of gradGraph.outputs) {
      expect(relativeError(got[o.name].data, expected[o.name].data, 1e-3, 1e-5), o.name).toBeLessThanOrEqual(1);
    }
  });
});
