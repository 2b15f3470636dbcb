// The vision side of both families as one ONNX graph: pixel_values [frames, 3, S, S] in,
// image_features [frames, tokens, text hidden] out (before LLaVA-OneVision's pooling, which
// video-pooling.ts does after the graph). Numerics follow transformers:
// - models/siglip/modeling_siglip.py: SiglipVisionEmbeddings (Conv2d with kernel = stride = patch
//   size, padding "valid", so the image is floored to whole patches; then position embeddings of
//   positions 0..P*P-1), SiglipEncoderLayer, SiglipVisionTransformer (post_layernorm on
//   last_hidden_state only). SiglipEncoder collects hidden_states as (embeddings output, output of
//   layer 1, ..., output of layer L): hidden_states[-1] is the last layer's output WITHOUT
//   post_layernorm.
// - models/llava_onevision/modeling_llava_onevision.py: get_video_features calls the tower with
//   output_hidden_states=True and takes hidden_states[vision_feature_layer] (so no post_layernorm),
//   drops the first token when vision_feature_select_strategy == "default", then
//   LlavaOnevisionMultiModalProjector: linear_1, act (projector_hidden_act "gelu" = exact erf GELU),
//   linear_2.
// - models/idefics3/modeling_idefics3.py: Idefics3VisionTransformer applies post_layernorm;
//   Idefics3Connector: pixel_shuffle(scale_factor), then modality_projection.proj (no bias).
// The patch embedding is Slice, Reshape, Transpose and one MatMul (no Conv op), so the graph stays
// within the builder's ops and differentiates like any other.
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../graph/builder';
import type { Graph, Value } from '../graph/ir';
import { geluErf, geluTanh, layerNorm, linear, visionEncoderLayer, type Projection, type VisionLayerWeights } from '../graph/nn';
import { serialize } from '../graph/onnx';
import { Session, type SessionOptions } from '../graph/session';
import type { ModelConfig, VisionConfig } from './config';
import { bilinearMatrix, pooledSide } from './video-pooling';
import { graphWeight, patchesPerSide, transpose, type ModelWeights } from './weights';

/** Where the vision tower's weights live in each family's checkpoint (docs/families.md). */
export const visionWeightPrefix = (config: ModelConfig): string =>
  config.arch === 'llava-onevision' ? 'vision_tower.vision_model.' : 'model.vision_model.';

/** Side of the grid the connector leaves: Idefics3's pixel shuffle merges scale x scale patches into one token. */
function shuffledSide(config: ModelConfig & { arch: 'idefics3' }): number {
  const side = patchesPerSide(config.vision);
  if (side % config.scaleFactor !== 0) {
    throw new Error(`${config.file}: ${side} patches per side cannot be pixel-shuffled by scale_factor ${config.scaleFactor}`);
  }
  return side / config.scaleFactor;
}

/** How many encoder layers feed the features: LLaVA-OneVision reads hidden_states[vision_feature_layer]
 *  (index 0 is the embeddings output), so the layers after it are never run. */
function layersUsed(config: ModelConfig): number {
  const layers = config.vision.numLayers;
  if (config.arch !== 'llava-onevision') return layers;
  const index = config.visionFeatureLayer;
  const resolved = index < 0 ? layers + 1 + index : index;
  if (resolved < 0 || resolved > layers) {
    throw new Error(`${config.file}: vision_feature_layer ${index} is outside the tower's ${layers + 1} hidden states (${-(layers + 1)}..${layers})`);
  }
  return resolved;
}

/** Feature rows per frame the graph outputs (LLaVA-OneVision before its 2x2 pooling). */
export function visionTokensPerFrame(config: ModelConfig): number {
  if (config.arch === 'idefics3') return shuffledSide(config) ** 2;
  const side = patchesPerSide(config.vision);
  return side * side - (config.visionFeatureSelectStrategy === 'default' ? 1 : 0);
}

/** The patch grid of one frame's output rows (row-major). */
export function visionGrid(config: ModelConfig): { rows: number; cols: number } {
  if (config.arch === 'idefics3') {
    const side = shuffledSide(config);
    return { rows: side, cols: side };
  }
  if (config.visionFeatureSelectStrategy === 'default') {
    // As in modeling_llava_onevision.py's apply_pooling, which cannot view them as a grid either.
    throw new Error(`${config.file}: vision_feature_select_strategy "default" drops a token, so the ${visionTokensPerFrame(config)} features of a frame form no patch grid`);
  }
  const side = patchesPerSide(config.vision);
  return { rows: side, cols: side };
}

/** Initializers under their Hugging Face names, matrices in MatMul layout [in, out]; a value of
 *  that name already in the graph (a projector weight fed as an input to train it) is used instead. */
function weightLoader(b: GraphBuilder, weights: ModelWeights) {
  const tensor = (name: string, dims: readonly number[]): Value => graphWeight(b, name, dims, () => weights.get(name));
  const proj = (name: string, inF: number, outF: number, bias = true): Projection => ({
    weight: graphWeight(b, `${name}.weight`, [inF, outF], () => transpose(weights.get(`${name}.weight`), outF, inF)),
    ...(bias ? { bias: tensor(`${name}.bias`, [outF]) } : {}),
  });
  return { tensor, proj };
}

/** The projector's (LLaVA-OneVision) or connector's (Idefics3) weights, by their checkpoint names. */
export function projectorWeightNames(config: ModelConfig): string[] {
  return config.arch === 'llava-onevision'
    ? ['multi_modal_projector.linear_1.weight', 'multi_modal_projector.linear_1.bias', 'multi_modal_projector.linear_2.weight', 'multi_modal_projector.linear_2.bias']
    : ['model.connector.modality_projection.proj.weight'];
}

/** Rows of the tower's output per frame that reach the projector (after the select strategy). */
export const towerTokensPerFrame = (config: ModelConfig): number =>
  config.arch === 'llava-onevision' ? visionTokensPerFrame(config) : patchesPerSide(config.vision) ** 2;

/**
 * The projector (LLaVA-OneVision: linear_1, GELU, linear_2) or connector (Idefics3: pixel shuffle,
 * proj) on the tower's selected features [frames, towerTokensPerFrame, vision hidden], giving
 * [frames, visionTokensPerFrame, text hidden]. Composable, so training can put it in its graph.
 */
export function addProjector(b: GraphBuilder, config: ModelConfig, weights: ModelWeights, tower: Value): Value {
  const w = weightLoader(b, weights);
  const d = config.vision.hiddenSize;
  const textHidden = config.text.hiddenSize;
  if (config.arch === 'llava-onevision') {
    return b.scope('multi_modal_projector', () => {
      const x = b.scope('linear_1', () => linear(b, tower, w.proj('multi_modal_projector.linear_1', d, textHidden)));
      // projector_hidden_act: every published OneVision checkpoint says "gelu" (config.ts does not read the key).
      const act = b.scope('act', () => geluErf(b, x));
      return b.scope('linear_2', () => linear(b, act, w.proj('multi_modal_projector.linear_2', textHidden, textHidden)));
    });
  }
  const s = config.scaleFactor;
  const out = shuffledSide(config);
  return b.scope('connector', () => {
    // Token (Y, X) = (I*s + a, J*s + c) goes to token (I, J), channels (a, c, :): what the view /
    // permute / reshape chain of Idefics3Connector.pixel_shuffle amounts to.
    const shuffled = b.scope('pixel_shuffle', () => {
      const blocks = b.reshape(tower, [0, out, s, out, s, d]);
      return b.reshape(b.transpose(blocks, [0, 1, 3, 2, 4, 5]), [0, out * out, s * s * d]);
    });
    return b.scope('modality_projection', () => b.scope('proj', () => linear(b, shuffled, w.proj('model.connector.modality_projection.proj', s * s * d, textHidden, false))));
  });
}

type Loader = ReturnType<typeof weightLoader>;
type Activation = (b: GraphBuilder, x: Value) => Value;

const activations: Record<VisionConfig['hiddenAct'], Activation> = { gelu_pytorch_tanh: geluTanh, gelu: geluErf };

/**
 * Conv2d(3, D, kernel = stride = p) as a MatMul: the frame is cut to side*p (the conv floors), split
 * into [frames, side*side, 3*p*p] patches flattened in the kernel's own (channel, ky, kx) order, and
 * multiplied by the kernel [D, 3, p, p] viewed as [3*p*p, D]; then position embeddings 0..side*side-1.
 */
function embeddings(b: GraphBuilder, pixels: Value, v: VisionConfig, prefix: string, w: Loader): Value {
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


/**
 * A prompt's visual rows made in-graph from tower features of whole videos of `frames` frames each,
 * [videos * frames, towerTokensPerFrame, vision hidden] -> [videos * rowsPerVideo, text hidden], in
 * the order prompts take them: the projector, then for LLaVA-OneVision the 2x2 bilinear pooling (one
 * MatMul by bilinearMatrix) and one image_newline after each video's frames. What VisionEncoder
 * plus poolVideoFeatures compute on the host, as a differentiable graph for training the projector.
 */
export function addVisualRows(b: GraphBuilder, config: ModelConfig, weights: ModelWeights, tower: Value, frames: number): Value {
  const h = config.text.hiddenSize;
  const projected = addProjector(b, config, weights, tower);
  if (config.arch !== 'llava-onevision') return b.reshape(projected, [-1, h]);
  return b.scope('video_pooling', () => {
    const side = visionGrid(config).rows;
    const out = pooledSide(side);
    const pool = b.constant('float32', [out * out, side * side], Array.from(bilinearMatrix(side, out)));
    const pooled = b.reshape(b.matmul(pool, projected), [-1, frames * out * out, h]);
    const newline = graphWeight(b, 'image_newline', [h], () => weights.get('image_newline'));
    const perVideo = b.expand(b.reshape(newline, [1, 1, h]), b.concat([b.shape(pooled, 0, 1), b.ints([1, h])], 0), [pooled.shape[0], 1, h]);
    return b.reshape(b.concat([pooled, perVideo], 1), [-1, h]);
  });
}

/** 'features': through the projector (what prompts take); 'tower': the tower's selected output,
 *  what training the projector starts from. */
export type VisionStage = 'features' | 'tower';
export const TOWER_OUTPUT = 'tower_features';

/** The vision graph: pixel_values [frames, 3, S, S] to image_features [frames, visionTokensPerFrame, text hidden]
 *  (or, at stage 'tower', tower_features [frames, towerTokensPerFrame, vision hidden]). */
export function buildVisionGraph(config: ModelConfig, weights: ModelWeights, stage: VisionStage = 'features'): Graph {
  const v = config.vision;
  const d = v.hiddenSize;
  const side = patchesPerSide(v);
  const prefix = visionWeightPrefix(config);
  const layers = layersUsed(config);
  const tokens = visionTokensPerFrame(config);
  const b = new GraphBuilder('vision');
  const w = weightLoader(b, weights);
  const pixels = b.input('pixel_values', 'float32', ['frames', 3, v.imageSize, v.imageSize]);
  const cfg = { heads: v.numHeads, kvHeads: v.numHeads, headDim: d / v.numHeads, lnEps: v.layerNormEps };
  const norm = (name: string) => ({ weight: w.tensor(`${name}.weight`, [d]), bias: w.tensor(`${name}.bias`, [d]) });

  const tower = b.scope('vision_tower', () => {
    let h = b.scope('embeddings', () => embeddings(b, pixels, v, prefix, w));
    for (let l = 0; l < layers; l++) {
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
    if (config.arch === 'llava-onevision') return h;
    const post = norm(`${prefix}post_layernorm`);
    return b.scope('post_layernorm', () => layerNorm(b, h, post.weight, post.bias, v.layerNormEps));
  });

  const selected = config.arch === 'llava-onevision' && config.visionFeatureSelectStrategy === 'default' ? b.slice(tower, [1], [side * side], [1]) : tower;
  if (stage === 'tower') {
    b.output(b.node('Identity', [selected], {}, { outNames: [TOWER_OUTPUT], outShapes: [['frames', towerTokensPerFrame(config), d]] })[0]);
    return b.build();
  }
  const features = addProjector(b, config, weights, selected);
  const textHidden = config.text.hiddenSize;
  b.output(b.node('Identity', [features], {}, { outNames: ['image_features'], outShapes: [['frames', tokens, textHidden]] })[0]);
  return b.build();
}

/** The vision graph in an ONNX Runtime session, run over frames in chunks to bound memory. */
export class VisionEncoder {
  private constructor(
    private readonly session: Session,
    private readonly imageSize: number,
    readonly tokensPerFrame: number,
    readonly hiddenSize: number,
    private readonly output: string,
  ) {}

  static async create(config: ModelConfig, weights: ModelWeights, options: Omit<SessionOptions, 'graphName'> = {}, stage: VisionStage = 'features'): Promise<VisionEncoder> {
    const graphName = stage === 'tower' ? 'vision_tower' : 'vision';
    const session = await Session.create(serialize(buildVisionGraph(config, weights, stage)), { ...options, graphName });
    return stage === 'tower'
      ? new VisionEncoder(session, config.vision.imageSize, towerTokensPerFrame(config), config.vision.hiddenSize, TOWER_OUTPUT)
      : new VisionEncoder(session, config.vision.imageSize, visionTokensPerFrame(config), config.text.hiddenSize, 'image_features');
  }

  /** pixel_values [frames, 3, S, S] to features [frames, tokensPerFrame, hiddenSize], `chunk` frames per run. */
  async encode(pixelValues: Float32Array, frames: number, chunk = 8): Promise<Float32Array> {
    const s = this.imageSize;
    const perFrame = 3 * s * s;
    if (!(Number.isInteger(frames) && frames >= 0)) throw new Error(`frames must be a whole number, got ${frames}`);
    if (!(Number.isInteger(chunk) && chunk > 0)) throw new Error(`chunk must be a positive whole number, got ${chunk}`);
    if (pixelValues.length !== frames * perFrame) {
      throw new Error(`pixel_values has ${pixelValues.length} values; ${frames} frames of [3, ${s}, ${s}] need ${frames * perFrame}`);
    }
    const rowFloats = this.tokensPerFrame * this.hiddenSize;
    const out = new Float32Array(frames * rowFloats);
    for (let f = 0; f < frames; f += chunk) {
      const n = Math.min(chunk, frames - f);
      const input = new ort.Tensor('float32', pixelValues.subarray(f * perFrame, (f + n) * perFrame), [n, 3, s, s]);
      const result = await this.session.run({ pixel_values: input });
      out.set(result[this.output].data as Float32Array, f * rowFloats);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
