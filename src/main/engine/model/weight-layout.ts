// The shared vocabulary of checkpoint weights: the shapes of the parts several families compose
// (the SigLIP tower, the Qwen2 / Llama decoder) under a family's prefix, and how a graph takes a
// weight (MatMul layout, or the caller's own value of that name). Names follow modeling_siglip.py
// and modeling_qwen2.py / modeling_llama.py (see docs/families.md).
import type { GraphBuilder } from '../graph/builder';
import type { Value } from '../graph/ir';
import type { Projection } from '../graph/nn';
import type { DecoderConfig, VisionConfig } from './config';
import type { ModelWeights } from './weights';

export type WeightShapes = Map<string, number[]>;

/** Row-major [rows, cols] to [cols, rows]: torch's Linear [out, in] to MatMul's [in, out] and back. */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

/** A weight as an initializer under its checkpoint name. A value of that name the caller's graph
 *  already holds (the embedding it gathered from, or a weight it feeds as an input to train it) is
 *  used instead, so nothing is added twice; it must have the dims asked for. */
export function graphWeight(b: GraphBuilder, name: string, dims: readonly number[], load: () => Float32Array): Value {
  let existing: Value;
  try {
    existing = b.value(name);
  } catch {
    return b.initializer(name, 'float32', dims, load());
  }
  if (existing.shape.join(',') !== dims.join(',')) throw new Error(`the graph's '${name}' is [${existing.shape}], this model needs [${dims}]`);
  return existing;
}

/** Initializers under their Hugging Face names, matrices in MatMul layout [in, out], each the
 *  model's one shared array (ModelWeights.shared); a value of that name already in the graph (a
 *  projector weight fed as an input to train it) is used instead. */
export function weightLoader(b: GraphBuilder, weights: ModelWeights) {
  const tensor = (name: string, dims: readonly number[]): Value => graphWeight(b, name, dims, () => weights.shared(name, 'stored'));
  const proj = (name: string, inF: number, outF: number, bias = true): Projection => ({
    weight: graphWeight(b, `${name}.weight`, [inF, outF], () => weights.shared(`${name}.weight`, 'matmul')),
    ...(bias ? { bias: tensor(`${name}.bias`, [outF]) } : {}),
  });
  return { tensor, proj };
}

export type WeightLoader = ReturnType<typeof weightLoader>;

/** Patches per side: the conv patch embedding floors (SigLIP's 384 / 14 gives 27). */
export const patchesPerSide = (v: VisionConfig) => Math.floor(v.imageSize / v.patchSize);

/** The SigLIP tower's weights under `prefix` (post_layernorm included: checkpoints hold it even where it is unused). */
export function siglipTowerShapes(out: WeightShapes, prefix: string, v: VisionConfig): void {
  const d = v.hiddenSize;
  out.set(`${prefix}embeddings.patch_embedding.weight`, [d, 3, v.patchSize, v.patchSize]);
  out.set(`${prefix}embeddings.patch_embedding.bias`, [d]);
  out.set(`${prefix}embeddings.position_embedding.weight`, [patchesPerSide(v) ** 2, d]);
  for (let i = 0; i < v.numLayers; i++) {
    const l = `${prefix}encoder.layers.${i}.`;
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      out.set(`${l}self_attn.${p}.weight`, [d, d]);
      out.set(`${l}self_attn.${p}.bias`, [d]);
    }
    for (const n of ['layer_norm1', 'layer_norm2']) {
      out.set(`${l}${n}.weight`, [d]);
      out.set(`${l}${n}.bias`, [d]);
    }
    out.set(`${l}mlp.fc1.weight`, [v.intermediateSize, d]);
    out.set(`${l}mlp.fc1.bias`, [v.intermediateSize]);
    out.set(`${l}mlp.fc2.weight`, [d, v.intermediateSize]);
    out.set(`${l}mlp.fc2.bias`, [d]);
  }
  out.set(`${prefix}post_layernorm.weight`, [d]);
  out.set(`${prefix}post_layernorm.bias`, [d]);
}

/** A size config.json states that a stored tensor shows too: dim `dim` of `tensor` (canonical name)
 *  must be `expected`, which is the key's value or, with `makes` saying what, what it makes with others. */
export interface SizeEvidence {
  key: string;
  value: number;
  tensor: string;
  dim: number;
  expected: number;
  makes?: string;
}

/** A stack of numbered layers config.json counts (`key`), whose weights are named `${prefix}N.`. */
export interface LayerEvidence {
  key: string;
  value: number;
  prefix: string;
}

/** What the checkpoint shows of a SigLIP tower's config (section `vision_config`): its layer count by
 *  the layers' names, and its sizes by the shapes of the embeddings and the first layer's MLP. */
export function siglipTowerEvidence(prefix: string, v: VisionConfig): { layers: LayerEvidence; sizes: SizeEvidence[] } {
  const key = (k: string) => `vision_config.${k}`;
  const side = patchesPerSide(v);
  const patch = `${prefix}embeddings.patch_embedding.weight`;
  return {
    layers: { key: key('num_hidden_layers'), value: v.numLayers, prefix: `${prefix}encoder.layers.` },
    sizes: [
      { key: key('hidden_size'), value: v.hiddenSize, tensor: patch, dim: 0, expected: v.hiddenSize },
      { key: key('patch_size'), value: v.patchSize, tensor: patch, dim: 2, expected: v.patchSize },
      { key: key('image_size'), value: v.imageSize, tensor: `${prefix}embeddings.position_embedding.weight`, dim: 0, expected: side * side, makes: `positions (${side}x${side} patches of ${v.patchSize})` },
      { key: key('intermediate_size'), value: v.intermediateSize, tensor: `${prefix}encoder.layers.0.mlp.fc1.weight`, dim: 0, expected: v.intermediateSize },
    ],
  };
}

/** What the checkpoint shows of a Qwen2 / Llama decoder's config (section `text_config`): its layer
 *  count by the layers' names, its sizes by the shapes of the embedding and the first layer. */
export function decoderEvidence(prefix: string, t: DecoderConfig): { layers: LayerEvidence; sizes: SizeEvidence[] } {
  const key = (k: string) => `text_config.${k}`;
  const layer0 = `${prefix}layers.0.`;
  const rows = (what: string) => `${what} rows at head_dim ${t.headDim} (head_dim, else hidden_size / num_attention_heads)`;
  return {
    layers: { key: key('num_hidden_layers'), value: t.numLayers, prefix: `${prefix}layers.` },
    sizes: [
      { key: key('vocab_size'), value: t.vocabSize, tensor: `${prefix}embed_tokens.weight`, dim: 0, expected: t.vocabSize },
      { key: key('hidden_size'), value: t.hiddenSize, tensor: `${prefix}embed_tokens.weight`, dim: 1, expected: t.hiddenSize },
      { key: key('num_attention_heads'), value: t.numHeads, tensor: `${layer0}self_attn.q_proj.weight`, dim: 0, expected: t.numHeads * t.headDim, makes: rows('query') },
      { key: key('num_key_value_heads'), value: t.numKvHeads, tensor: `${layer0}self_attn.k_proj.weight`, dim: 0, expected: t.numKvHeads * t.headDim, makes: rows('key') },
      { key: key('intermediate_size'), value: t.intermediateSize, tensor: `${layer0}mlp.gate_proj.weight`, dim: 0, expected: t.intermediateSize },
    ],
  };
}

/** The Qwen2 / Llama decoder's weights under `prefix`, and its head unless tied. */
export function decoderShapes(out: WeightShapes, prefix: string, lmHead: string, t: DecoderConfig): void {
  const h = t.hiddenSize;
  const q = t.numHeads * t.headDim;
  const kv = t.numKvHeads * t.headDim;
  out.set(`${prefix}embed_tokens.weight`, [t.vocabSize, h]);
  for (let i = 0; i < t.numLayers; i++) {
    const l = `${prefix}layers.${i}.`;
    const proj = { q_proj: [q, h], k_proj: [kv, h], v_proj: [kv, h], o_proj: [h, q] } as const;
    for (const [name, shape] of Object.entries(proj)) {
      out.set(`${l}self_attn.${name}.weight`, [...shape]);
      const biased = name === 'o_proj' ? t.outputBias : t.qkvBias;
      if (biased) out.set(`${l}self_attn.${name}.bias`, [shape[0]]);
    }
    const mlp = { gate_proj: [t.intermediateSize, h], up_proj: [t.intermediateSize, h], down_proj: [h, t.intermediateSize] } as const;
    for (const [name, shape] of Object.entries(mlp)) {
      out.set(`${l}mlp.${name}.weight`, [...shape]);
      if (t.mlpBias) out.set(`${l}mlp.${name}.bias`, [shape[0]]);
    }
    out.set(`${l}input_layernorm.weight`, [h]);
    out.set(`${l}post_attention_layernorm.weight`, [h]);
  }
  out.set(`${prefix}norm.weight`, [h]);
  if (!t.tieWordEmbeddings) out.set(lmHead, [t.vocabSize, h]);
}
