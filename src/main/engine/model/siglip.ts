// The SigLIP vision tower as graph pieces every family composes, following transformers
// models/siglip/modeling_siglip.py: SiglipVisionEmbeddings (Conv2d with kernel = stride = patch
// size, padding "valid", so the image is floored to whole patches; then position embeddings of
// positions 0..P*P-1), SiglipEncoderLayer, and post_layernorm. SiglipEncoder collects hidden_states
// as (embeddings output, output of layer 1, ..., output of layer L): running `layers` layers gives
// hidden_states[layers], WITHOUT post_layernorm unless asked for.
// The patch embedding is Slice, Reshape, Transpose and one MatMul (no Conv op), so the graph stays
// within the builder's ops and differentiates like any other.
import type { GraphBuilder } from '../graph/builder';
import type { Value } from '../graph/ir';
import { activations, layerNorm, linear, visionEncoderLayer, type VisionLayerWeights } from '../graph/nn';
import type { VisionConfig } from './config';
import { patchesPerSide, type WeightLoader } from './weight-layout';

/**
 * Conv2d(3, D, kernel = stride = p) as a MatMul: the frame is cut to side*p (the conv floors), split
 * into [frames, side*side, 3*p*p] patches flattened in the kernel's own (channel, ky, kx) order, and
 * multiplied by the kernel [D, 3, p, p] viewed as [3*p*p, D]; then position embeddings 0..side*side-1.
 */
function embeddings(b: GraphBuilder, pixels: Value, v: VisionConfig, prefix: string, w: WeightLoader): Value {
  const p = v.patchSize;
  const side = patchesPerSide(v);
  const used = side * p;
  const cropped = used === v.imageSize ? pixels : b.slice(pixels, [0, 0], [used, used], [2, 3]);
  const patches = b.scope('patchify', () => {
    const grid = b.reshape(cropped, [0, 3, side, p, side, p]);
    return b.reshape(b.transpose(grid, [0, 2, 4, 1, 3, 5]), [0, side * side, 3 * p * p]);
  });
  const embedded = b.scope('patch_embedding', () => linear(b, patches, w.proj(`${prefix}embeddings.patch_embedding`, 3 * p * p, v.hiddenSize)));
  const positions = w.tensor(`${prefix}embeddings.position_embedding.weight`, [side * side, v.hiddenSize]);
  return b.scope('position_embedding', () => b.add(embedded, positions));
}

export interface SiglipTowerOptions {
  /** Where the tower's weights live in the checkpoint, e.g. 'model.vision_model.'. */
  prefix: string;
  /** Encoder layers to run: the output is hidden_states[layers]. */
  layers: number;
  postLayerNorm: boolean;
}

/** pixel_values [frames, 3, S, S] to the tower's hidden states [frames, side*side, vision hidden], in scope 'vision_tower'. */
export function addSiglipTower(b: GraphBuilder, v: VisionConfig, w: WeightLoader, pixels: Value, options: SiglipTowerOptions): Value {
  const d = v.hiddenSize;
  const { prefix } = options;
  const cfg = { heads: v.numHeads, kvHeads: v.numHeads, headDim: d / v.numHeads, lnEps: v.layerNormEps };
  const norm = (name: string) => ({ weight: w.tensor(`${name}.weight`, [d]), bias: w.tensor(`${name}.bias`, [d]) });
  return b.scope('vision_tower', () => {
    let h = b.scope('embeddings', () => embeddings(b, pixels, v, prefix, w));
    for (let l = 0; l < options.layers; l++) {
      const m = `${prefix}encoder.layers.${l}`;
      const layer: VisionLayerWeights = {
        q: w.proj(`${m}.self_attn.q_proj`, d, d),
        k: w.proj(`${m}.self_attn.k_proj`, d, d),
        v: w.proj(`${m}.self_attn.v_proj`, d, d),
        o: w.proj(`${m}.self_attn.out_proj`, d, d),
        norm1: norm(`${m}.layer_norm1`),
        norm2: norm(`${m}.layer_norm2`),
        fc1: w.proj(`${m}.mlp.fc1`, d, v.intermediateSize),
        fc2: w.proj(`${m}.mlp.fc2`, v.intermediateSize, d),
      };
      h = b.scope('encoder', () => b.scope(`layers.${l}`, () => visionEncoderLayer(b, h, layer, cfg, activations[v.hiddenAct])));
    }
    if (!options.postLayerNorm) return h;
    const post = norm(`${prefix}post_layernorm`);
    return b.scope('post_layernorm', () => layerNorm(b, h, post.weight, post.bias, v.layerNormEps));
  });
}
