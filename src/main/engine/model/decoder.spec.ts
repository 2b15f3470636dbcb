import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../generate/sampling';
import { GraphBuilder } from '../graph/builder';
import type { Graph } from '../graph/ir';
import { serialize } from '../graph/onnx';
import { Session } from '../graph/session';
import type { ModelConfig } from './config';
import { addDecoder, attentionRows, buildDecoderGraph, textWeightNames, withFullCache, type DecoderGraphOptions } from './decoder';
import { fixtureArchs, writeFixture } from './fixture';
import { naiveEmbed, naiveForward, type NaiveLora } from '../testing/naive/decoder';
import type { Rope } from './rope';
import { expectedWeights, modelWeights, openWeights, type ModelWeights } from './weights';

const corpus = ['What colour is the square?', 'Which way does the red circle move?', 'How many shapes are in the video?'];
// float32 ONNX Runtime against the float64 loops: logits of size ~4 agree to ~2e-6 on the tiny fixture.
const TOLERANCE = 5e-5;
const ids = [5, 17, 42, 3, 99, 100, 7, 8, 250, 11, 12];
const seq = ids.length;

const opened: ModelWeights[] = [];
afterAll(() => opened.forEach((w) => w.close()));

function tiny(arch: (typeof fixtureArchs)[number]): { config: ModelConfig; weights: ModelWeights } {
  const dir = mkdtempSync(join(tmpdir(), 'isr-decoder-'));
  const { config } = writeFixture(dir, { arch, size: 'tiny', seed: 11, corpus });
  const weights = openWeights(dir, config);
  opened.push(weights);
  return { config, weights };
}

/** Runs `graph` once on one unpadded sequence at positions 0..seq-1. */
async function runOnce(graph: Graph, embeds: Float64Array, extra: Record<string, ort.Tensor> = {}): Promise<Record<string, ort.Tensor>> {
  const hidden = embeds.length / seq;
  const session = await Session.create(serialize(graph), { graphName: graph.name });
  try {
    return await session.run({
      inputs_embeds: new ort.Tensor('float32', Float32Array.from(embeds), [1, seq, hidden]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(seq).fill(1n), [1, seq]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: seq }, (_, i) => BigInt(i)), [1, seq]),
      ...extra,
    });
  } finally {
    await session.release();
  }
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('textWeightNames', () => {
  it('names each family\'s text model and head, and no head when tied', () => {
    const llava = tiny('llava-onevision').config;
    const idefics = tiny('idefics3').config;
    expect(textWeightNames(llava)).toEqual({ prefix: 'language_model.model.', lmHead: 'language_model.lm_head.weight' });
    expect(textWeightNames(idefics)).toEqual({ prefix: 'model.text_model.', lmHead: 'lm_head.weight' });
    expect(textWeightNames({ ...idefics, text: { ...idefics.text, tieWordEmbeddings: true } }).lmHead).toBeNull();
  });
});

describe.each(fixtureArchs)('%s decoder graph', (arch) => {
  const { config, weights } = tiny(arch);
  const t = config.text;
  const { prefix, lmHead } = textWeightNames(config);

  it('has the standard I/O names and dims, HF-named weights as the checkpoint stores them and readable node names', () => {
    const g = buildDecoderGraph(config, weights, { kvCache: true });
    expect(g.inputs.map((i) => [i.name, i.dtype, i.shape])).toEqual([
      ['inputs_embeds', 'float32', ['batch', 'seq', t.hiddenSize]],
      ['attention_mask', 'int64', ['batch', 'total']],
      ['position_ids', 'int64', ['batch', 'seq']],
      ...Array.from({ length: t.numLayers }, (_, l) => ['key', 'value'].map((k) => [`past_key_values.${l}.${k}`, 'float32', ['batch', t.numKvHeads, 'capacity', t.headDim]])).flat(),
    ]);
    expect(g.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['logits', ['batch', 'seq', t.vocabSize]],
      ...Array.from({ length: t.numLayers }, (_, l) => ['key', 'value'].map((k) => [`present.${l}.${k}`, ['batch', t.numKvHeads, 'seq', t.headDim]])).flat(),
    ]);
    expect(g.initializers.get(`${prefix}layers.0.self_attn.q_proj.weight`)?.dims).toEqual([t.numHeads * t.headDim, t.hiddenSize]);
    expect(g.initializers.get(`${prefix}layers.1.mlp.down_proj.weight`)?.dims).toEqual([t.hiddenSize, t.intermediateSize]);
    expect(g.initializers.get(lmHead!)?.dims).toEqual([t.vocabSize, t.hiddenSize]);
    expect(g.initializers.has(`${prefix}layers.0.self_attn.q_proj.bias`)).toBe(t.qkvBias);
    const names = g.nodes.map((n) => n.name);
    expect(names).toContain('/model/layers.0/self_attn/q_proj/Gemm');
    expect(names).toContain('/model/layers.1/mlp/down_proj/Gemm');
    expect(names).toContain('/lm_head/Gemm');
    // Masks are large finite negatives, never -inf.
    for (const [, tensor] of g.initializers) if (tensor.dtype === 'float32') expect(Array.from(tensor.data as Float32Array).every(Number.isFinite)).toBe(true);
  });

  it('with rowsAtRunTime takes the logits and query positions as inputs; each layer\'s query states and keys give the naive attention rows', async () => {
    const g = buildDecoderGraph(config, weights, { kvCache: true, rowsAtRunTime: true });
    expect(g.inputs.slice(-2).map((i) => [i.name, i.dtype, i.shape])).toEqual([['logits_positions', 'int64', ['rows']], ['query_positions', 'int64', ['queries']]]);
    expect(g.outputs.find((o) => o.name === 'logits')?.shape).toEqual(['batch', 'rows', t.vocabSize]);
    expect(g.outputs.filter((o) => o.name.startsWith('query_states.')).map((o) => [o.name, o.shape])).toEqual(
      Array.from({ length: t.numLayers }, (_, l) => [`query_states.${l}`, ['batch', t.numHeads, 'queries', t.headDim]]));
    const embeds = naiveEmbed(config, weights, ids);
    const naive = naiveForward(config, weights, embeds, seq, { attention: true });
    // A cache of one free slot, masked, as LanguageModel starts a prefill (WebGPU crashes on a cache of none).
    const free = new ort.Tensor('float32', new Float32Array(t.numKvHeads * t.headDim).fill(7), [1, t.numKvHeads, 1, t.headDim]);
    const past = Object.fromEntries(Array.from({ length: t.numLayers }, (_, l) => [[`past_key_values.${l}.key`, free], [`past_key_values.${l}.value`, free]]).flat());
    const mask = new ort.Tensor('int64', BigInt64Array.from({ length: 1 + seq }, (_, i) => (i === 0 ? 0n : 1n)), [1, 1 + seq]);
    const index = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), [xs.length]);
    const queries = [3, seq - 1, 0];
    const out = await runOnce(g, embeds, { ...past, attention_mask: mask, logits_positions: index([seq - 1, 0]), query_positions: index(queries) });
    expect(out.logits.dims).toEqual([1, 2, t.vocabSize]);
    const logits = out.logits.data as Float32Array;
    expect(maxDiff(logits.subarray(0, t.vocabSize), naive.logits.subarray((seq - 1) * t.vocabSize))).toBeLessThan(TOLERANCE);
    expect(maxDiff(logits.subarray(t.vocabSize), naive.logits.subarray(0, t.vocabSize))).toBeLessThan(TOLERANCE);
    for (let l = 0; l < t.numLayers; l++) {
      expect(out[`query_states.${l}`].dims).toEqual([1, t.numHeads, queries.length, t.headDim]);
      const rows = attentionRows(out[`query_states.${l}`].data as Float32Array, out[`present.${l}.key`].data as Float32Array, queries, { heads: t.numHeads, kvHeads: t.numKvHeads, headDim: t.headDim, total: seq });
      const want = Float32Array.from({ length: t.numHeads * queries.length * seq }, (_, i) => {
        const [h, q, k] = [Math.floor(i / (queries.length * seq)), Math.floor(i / seq) % queries.length, i % seq];
        return naive.attentions[l][(h * seq + queries[q]) * seq + k];
      });
      expect(maxDiff(rows, want)).toBeLessThan(1e-5);
    }
  });

  it('withFullCache also returns the whole cache after the step: the past\'s used slots, the step\'s, then the past\'s rest, grown where the step does not fit', async () => {
    const g = withFullCache(buildDecoderGraph(config, weights, { kvCache: true, rowsAtRunTime: true }), config);
    const embeds = naiveEmbed(config, weights, ids);
    const index = (xs: number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, BigInt), [xs.length]);
    const slot = t.headDim;
    for (const [capacity, used] of [[seq + 2, 1], [4, 2]]) {
      const pasts = Array.from({ length: t.numLayers * 2 }, (_, i) => Float32Array.from({ length: t.numKvHeads * capacity * slot }, (_, j) => i + j / 1000));
      const past = Object.fromEntries(pasts.map((data, i) => [`past_key_values.${i >> 1}.${i % 2 === 0 ? 'key' : 'value'}`, new ort.Tensor('float32', data, [1, t.numKvHeads, capacity, slot])]));
      const out = await runOnce(g, embeds, {
        ...past, attention_mask: new ort.Tensor('int64', new BigInt64Array(capacity + seq).fill(1n), [1, capacity + seq]),
        logits_positions: index([seq - 1]), query_positions: index([]), cache_position: index([used]),
      });
      const slots = Math.max(capacity, used + seq);
      pasts.forEach((data, i) => {
        const name = `${i >> 1}.${i % 2 === 0 ? 'key' : 'value'}`;
        const [full, step] = [out[`present_full.${name}`], out[`present.${name}`]];
        expect(full.dims).toEqual([1, t.numKvHeads, slots, slot]);
        for (let h = 0; h < t.numKvHeads; h++) {
          const row = (x: ort.Tensor, n: number) => (x.data as Float32Array).subarray(h * n * slot, (h + 1) * n * slot);
          const want = [...row(past[`past_key_values.${name}`], capacity).subarray(0, used * slot), ...row(step, seq), ...row(past[`past_key_values.${name}`], capacity).subarray((used + seq) * slot)];
          expect(Array.from(row(full, slots)), `${name}, head ${h}`).toEqual(want);
        }
      });
    }
  });

  it(`gives the naive float64 forward's logits within ${TOLERANCE}`, async () => {
    const embeds = naiveEmbed(config, weights, ids);
    const out = await runOnce(buildDecoderGraph(config, weights, { kvCache: false }), embeds);
    const naive = naiveForward(config, weights, embeds, seq);
    expect(out.logits.dims).toEqual([1, seq, t.vocabSize]);
    expect(maxDiff(out.logits.data as Float32Array, naive.logits)).toBeLessThan(TOLERANCE);
  });

  it('reuses the embedding matrix as the head when tied, with no lm_head weight', async () => {
    const tied: ModelConfig = { ...config, text: { ...t, tieWordEmbeddings: true } };
    const g = buildDecoderGraph(tied, weights, { kvCache: false });
    expect([...g.initializers.keys()].some((k) => k.includes('lm_head'))).toBe(false);
    expect(g.initializers.get(`${prefix}embed_tokens.weight`)?.dims).toEqual([t.vocabSize, t.hiddenSize]);
    const embeds = naiveEmbed(tied, weights, ids);
    const out = await runOnce(g, embeds);
    expect(out.logits.dims).toEqual([1, seq, t.vocabSize]);
    expect(maxDiff(out.logits.data as Float32Array, naiveForward(tied, weights, embeds, seq).logits)).toBeLessThan(TOLERANCE);
  });

  it('puts LoRA factors on the modules the adapter asks for, named by PEFT module path', async () => {
    const rng = new Rng(3);
    const rank = 2;
    const random = (n: number) => Float32Array.from({ length: n }, () => rng.next() - 0.5);
    const asked: string[] = [];
    const lora = new Map<string, NaiveLora>();
    const gb = new GraphBuilder('decoder_lora');
    const adapter: DecoderGraphOptions['adapter'] = (module, inF, outF) => {
      asked.push(module);
      if (!/(q_proj|v_proj|down_proj)$/.test(module)) return undefined;
      const factors = { a: random(inF * rank), b: random(rank * outF), r: rank, scale: 0.5 };
      lora.set(module, factors);
      return { a: gb.initializer(`${module}.lora_A`, 'float32', [inF, rank], factors.a), b: gb.initializer(`${module}.lora_B`, 'float32', [rank, outF], factors.b), scale: 0.5 };
    };
    const io = {
      inputsEmbeds: gb.input('inputs_embeds', 'float32', ['batch', 'seq', t.hiddenSize]),
      attentionMask: gb.input('attention_mask', 'int64', ['batch', 'total']),
      positionIds: gb.input('position_ids', 'int64', ['batch', 'seq']),
    };
    gb.output(addDecoder(gb, config, weights, io, { adapter }).logits, 'logits');
    const projections = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'];
    expect(asked).toEqual(Array.from({ length: t.numLayers }, (_, l) => projections.map((p) => `model.layers.${l}.${p}`)).flat());
    const embeds = naiveEmbed(config, weights, ids);
    const out = await runOnce(gb.build(), embeds);
    const adapted = naiveForward(config, weights, embeds, seq, { lora }).logits;
    expect(maxDiff(out.logits.data as Float32Array, adapted)).toBeLessThan(TOLERANCE);
    expect(maxDiff(adapted, naiveForward(config, weights, embeds, seq).logits)).toBeGreaterThan(1e-3);
  });

  it('reads embedding rows as the whole table holds them, from the file or from a live shared array', () => {
    const name = `${textWeightNames(config).prefix}embed_tokens.weight`;
    const wanted = [...ids, ids[0], 0, t.vocabSize - 1];
    const expected = naiveEmbed(config, weights, wanted);
    expect(maxDiff(weights.rows(name, wanted), expected)).toBe(0);
    const table = weights.shared(name, 'stored');
    expect(maxDiff(weights.rows(name, wanted), expected)).toBe(0);
    expect(table.length).toBe(t.vocabSize * t.hiddenSize);
  });

});

describe('decoder variants a config.json can ask for', () => {
  const { config, weights } = tiny('idefics3');
  const t = config.text;
  const embeds = naiveEmbed(config, weights, ids);
  const d = t.headDim;
  const theta = t.rope.theta;
  // Small original contexts, so that the 11 positions reach past them and every scaling acts.
  const ropes: [string, Rope][] = [
    ['linear', { theta, dim: d, scaling: { type: 'linear', factor: 2.5 } }],
    ['dynamic, past the original context', { theta, dim: d, scaling: { type: 'dynamic', factor: 3, originalMaxPositions: 4 } }],
    ['dynamic, within it', { theta, dim: d, scaling: { type: 'dynamic', factor: 3, originalMaxPositions: 64 } }],
    ['yarn', { theta, dim: d, scaling: { type: 'yarn', factor: 4, originalMaxPositions: 16, betaFast: 8, betaSlow: 1, attentionFactor: 0.1 * Math.log(4) + 1, truncate: true } }],
    ['llama3', { theta, dim: d, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 64 } }],
  ];

  it.each(ropes)('rope_scaling %s: the naive float64 forward\'s logits', async (_, rope) => {
    const scaled: ModelConfig = { ...config, text: { ...t, rope } };
    const out = await runOnce(buildDecoderGraph(scaled, weights, { kvCache: false }), embeds);
    const naive = naiveForward(scaled, weights, embeds, seq).logits;
    expect(maxDiff(out.logits.data as Float32Array, naive)).toBeLessThan(TOLERANCE);
    // The scaling changes the numbers (the within-context dynamic case excepted, which it must not).
    const plain = naiveForward(config, weights, embeds, seq).logits;
    if (_ === 'dynamic, within it') expect(maxDiff(naive, plain)).toBeLessThan(1e-12);
    else expect(maxDiff(naive, plain)).toBeGreaterThan(1e-4);
  });

  it('mlp_bias and another hidden_act: the naive float64 forward\'s logits', async () => {
    const variant: ModelConfig = { ...config, text: { ...t, mlpBias: true, hiddenAct: 'gelu_pytorch_tanh' } };
    const shapes = expectedWeights(variant);
    const rng = new Rng(5);
    const biases = new Map([...shapes].filter(([name]) => /mlp\.\w+_proj\.bias$/.test(name)).map(([name, [n]]) => [name, Float32Array.from({ length: n }, () => rng.next() - 0.5)]));
    const biased = modelWeights(shapes, { read: (name) => biases.get(name)?.slice() ?? weights.get(name), readRows: (name, ids) => weights.rows(name, ids), close: () => {} });
    expect([...shapes.keys()].filter((n) => n.endsWith('mlp.up_proj.bias'))).toHaveLength(t.numLayers);
    const out = await runOnce(buildDecoderGraph(variant, biased, { kvCache: false }), embeds);
    const naive = naiveForward(variant, biased, embeds, seq).logits;
    expect(maxDiff(out.logits.data as Float32Array, naive)).toBeLessThan(TOLERANCE);
    expect(maxDiff(naive, naiveForward(config, weights, embeds, seq).logits)).toBeGreaterThan(1e-3);
  });
});
