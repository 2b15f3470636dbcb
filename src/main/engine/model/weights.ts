// Every weight a model folder of a supported family must hold, with the shape its config implies,
// under the names the Hugging Face checkpoints use; and loading that checks them against the
// files. Names follow modeling_siglip.py, modeling_qwen2.py / modeling_llama.py,
// modeling_llava_onevision.py and modeling_idefics3.py (see docs/families.md).
import type { GraphBuilder } from '../graph/builder';
import type { Value } from '../graph/ir';
import type { Dtype, TensorSource } from '../graph/safetensors';
import { openCheckpoint } from '../graph/safetensors';
import type { DecoderConfig, ModelConfig, VisionConfig } from './config';

export type WeightShapes = Map<string, number[]>;

/** Row-major [rows, cols] to [cols, rows]: torch's Linear [out, in] to MatMul's [in, out] and back. */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

/** A weight as an initializer under its checkpoint name. A value of that name the caller's graph
 *  already holds (the embedding it gathered from, or a weight it feeds as an input to train it) is
 *  used instead, so nothing is added twice; it must have the MatMul-layout dims. */
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

/** Patches per side: the conv patch embedding floors (SigLIP's 384 / 14 gives 27). */
export const patchesPerSide = (v: VisionConfig) => Math.floor(v.imageSize / v.patchSize);

function siglipTower(out: WeightShapes, prefix: string, v: VisionConfig): void {
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

function decoder(out: WeightShapes, prefix: string, lmHead: string, t: DecoderConfig): void {
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
    out.set(`${l}mlp.gate_proj.weight`, [t.intermediateSize, h]);
    out.set(`${l}mlp.up_proj.weight`, [t.intermediateSize, h]);
    out.set(`${l}mlp.down_proj.weight`, [h, t.intermediateSize]);
    out.set(`${l}input_layernorm.weight`, [h]);
    out.set(`${l}post_attention_layernorm.weight`, [h]);
  }
  out.set(`${prefix}norm.weight`, [h]);
  if (!t.tieWordEmbeddings) out.set(lmHead, [t.vocabSize, h]);
}

/** The weights of `config`'s family, under the names its published checkpoints use. */
export function expectedWeights(config: ModelConfig): WeightShapes {
  const out: WeightShapes = new Map();
  const h = config.text.hiddenSize;
  if (config.arch === 'llava-onevision') {
    siglipTower(out, 'vision_tower.vision_model.', config.vision);
    out.set('multi_modal_projector.linear_1.weight', [h, config.vision.hiddenSize]);
    out.set('multi_modal_projector.linear_1.bias', [h]);
    out.set('multi_modal_projector.linear_2.weight', [h, h]);
    out.set('multi_modal_projector.linear_2.bias', [h]);
    out.set('image_newline', [h]);
    decoder(out, 'language_model.model.', 'language_model.lm_head.weight', config.text);
  } else {
    siglipTower(out, 'model.vision_model.', config.vision);
    out.set('model.connector.modality_projection.proj.weight', [h, config.vision.hiddenSize * config.scaleFactor ** 2]);
    decoder(out, 'model.text_model.', 'lm_head.weight', config.text);
  }
  return out;
}

/** transformers 5 saves LLaVA-OneVision under model.* and lm_head.*; both layouts load. */
function canonicalName(name: string): string {
  return name
    .replace(/^model\.language_model\./, 'language_model.model.')
    .replace(/^model\.vision_tower\./, 'vision_tower.')
    .replace(/^model\.multi_modal_projector\./, 'multi_modal_projector.')
    .replace(/^model\.image_newline$/, 'image_newline')
    .replace(/^lm_head\.weight$/, 'language_model.lm_head.weight');
}

const floatDtypes: readonly Dtype[] = ['F32', 'F16', 'BF16', 'F64'];

export interface ModelWeights {
  /** Float32 values of a weight by its canonical name (the first layout above). */
  get(name: string): Float32Array;
  shapes: WeightShapes;
  close(): void;
}

/** Opens the checkpoint in `dir` and checks every expected weight is there, floating point, and
 *  of the shape the config implies; errors name the folder and the tensor. Values load on demand. */
export function openWeights(dir: string, config: ModelConfig): ModelWeights {
  const shapes = expectedWeights(config);
  const source: TensorSource = openCheckpoint(dir);
  try {
    const byCanonical = new Map<string, string>();
    for (const name of source.names()) {
      const canonical = config.arch === 'llava-onevision' ? canonicalName(name) : name;
      byCanonical.set(canonical, name);
    }
    for (const [name, shape] of shapes) {
      const stored = byCanonical.get(name);
      if (!stored) throw new Error(`${dir}: weight "${name}" is missing (config.json implies shape [${shape.join(', ')}])`);
      const info = source.info(stored);
      if (!floatDtypes.includes(info.dtype)) {
        throw new Error(`${dir}: weight "${stored}" has dtype ${info.dtype}; model weights must be F32, F16, BF16 or F64`);
      }
      if (info.shape.join(',') !== shape.join(',')) {
        throw new Error(`${dir}: weight "${stored}" has shape [${info.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`);
      }
    }
    return {
      shapes,
      get(name) {
        const stored = byCanonical.get(name);
        if (!stored || !shapes.has(name)) throw new Error(`${dir}: no weight "${name}"`);
        return source.readAsFloat32(stored);
      },
      close: () => source.close(),
    };
  } catch (err) {
    source.close();
    throw err;
  }
}
