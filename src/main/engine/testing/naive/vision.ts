// An independent float64 forward of the built-in families' vision side in plain loops, straight from the
// checkpoint's torch-layout weights: no GraphBuilder, no ONNX. It exists to check the vision graph
// (model/vision.ts) in tests, so it is written to be obviously right, not fast: the patch
// embedding is a literal strided convolution, every hidden state of the tower is kept and indexed
// as Python indexes a tuple, and Idefics3's pixel shuffle replays the view/permute steps of
// Idefics3Connector.pixel_shuffle one by one. Follows transformers models/siglip/modeling_siglip.py,
// models/llava_onevision/modeling_llava_onevision.py and models/idefics3/modeling_idefics3.py.
import { concatTyped } from '../../../../shared/arrays';
import type { ModelConfig } from '../../model/config';
import type { Idefics3Config, LlavaOnevisionConfig } from '../../model/families';
import { visionWeightPrefix } from '../../model/vision';
import type { ModelWeights } from '../../model/weights';
import { naiveActivation } from './activations';
import { linear } from './decoder';

export interface NaiveVisionOptions {
  /** Override whether post_layernorm follows the selected hidden state (default: Idefics3 yes, LLaVA-OneVision no). */
  postLayerNorm?: boolean;
}

function layerNorm(x: Float64Array, rows: number, d: number, w: Float32Array, bias: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let t = 0; t < rows; t++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[t * d + i] / d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (x[t * d + i] - mean) ** 2 / d;
    for (let i = 0; i < d; i++) y[t * d + i] = ((x[t * d + i] - mean) / Math.sqrt(variance + eps)) * w[i] + bias[i];
  }
  return y;
}

/** SiglipAttention without a mask: softmax(q k^T / sqrt(headDim)) v per head, then out_proj. */
function attention(x: Float64Array, seq: number, d: number, heads: number, get: (n: string) => Float32Array, m: string): Float64Array {
  const q = linear(x, seq, d, get(`${m}.q_proj.weight`), d, get(`${m}.q_proj.bias`));
  const k = linear(x, seq, d, get(`${m}.k_proj.weight`), d, get(`${m}.k_proj.bias`));
  const v = linear(x, seq, d, get(`${m}.v_proj.weight`), d, get(`${m}.v_proj.bias`));
  const hd = d / heads;
  const merged = new Float64Array(seq * d);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < seq; i++) {
      const scores = new Float64Array(seq);
      for (let j = 0; j < seq; j++) {
        let s = 0;
        for (let c = 0; c < hd; c++) s += q[i * d + h * hd + c] * k[j * d + h * hd + c];
        scores[j] = s / Math.sqrt(hd);
      }
      const top = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - top));
      const total = e.reduce((a, b) => a + b, 0);
      for (let j = 0; j < seq; j++) for (let c = 0; c < hd; c++) merged[i * d + h * hd + c] += (e[j] / total) * v[j * d + h * hd + c];
    }
  }
  return linear(merged, seq, d, get(`${m}.out_proj.weight`), d, get(`${m}.out_proj.bias`));
}

/** x [A, B, C] to [B, A, C] (torch's permute of the first two axes, then contiguous). */
function swapLeading(x: Float64Array, a: number, b: number, c: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let k = 0; k < c; k++) y[(j * a + i) * c + k] = x[(i * b + j) * c + k];
  return y;
}

/** One frame [3, S, S] to its features [tokens, text hidden]. */
function frameForward(config: ModelConfig, weights: ModelWeights, pixels: Float64Array, options: NaiveVisionOptions): Float64Array {
  const v = config.vision;
  const get = (n: string) => weights.get(n);
  const pre = visionWeightPrefix(config);
  const d = v.hiddenSize;
  const p = v.patchSize;
  const S = v.imageSize;
  const side = Math.floor(S / p);
  const seq = side * side;

  // Conv2d(3, d, kernel p, stride p, padding "valid") + bias, flattened row-major over the output grid.
  const kernel = get(`${pre}embeddings.patch_embedding.weight`);
  const convBias = get(`${pre}embeddings.patch_embedding.bias`);
  const position = get(`${pre}embeddings.position_embedding.weight`);
  let hidden = new Float64Array(seq * d);
  for (let oy = 0; oy < side; oy++) {
    for (let ox = 0; ox < side; ox++) {
      const t = oy * side + ox;
      for (let o = 0; o < d; o++) {
        let s = convBias[o];
        for (let c = 0; c < 3; c++) {
          for (let ky = 0; ky < p; ky++) {
            for (let kx = 0; kx < p; kx++) s += kernel[((o * 3 + c) * p + ky) * p + kx] * pixels[(c * S + oy * p + ky) * S + ox * p + kx];
          }
        }
        hidden[t * d + o] = s + position[t * d + o];
      }
    }
  }

  const states = [hidden];
  for (let l = 0; l < v.numLayers; l++) {
    const m = `${pre}encoder.layers.${l}`;
    const n1 = layerNorm(hidden, seq, d, get(`${m}.layer_norm1.weight`), get(`${m}.layer_norm1.bias`), v.layerNormEps);
    const attn = attention(n1, seq, d, v.numHeads, get, `${m}.self_attn`);
    const mid = hidden.map((x, i) => x + attn[i]);
    const n2 = layerNorm(mid, seq, d, get(`${m}.layer_norm2.weight`), get(`${m}.layer_norm2.bias`), v.layerNormEps);
    const act = linear(n2, seq, d, get(`${m}.mlp.fc1.weight`), v.intermediateSize, get(`${m}.mlp.fc1.bias`)).map(naiveActivation(v.hiddenAct));
    const mlp = linear(act, seq, v.intermediateSize, get(`${m}.mlp.fc2.weight`), d, get(`${m}.mlp.fc2.bias`));
    hidden = mid.map((x, i) => x + mlp[i]);
    states.push(hidden);
  }

  const connector = connectors[config.arch];
  if (!connector) throw new Error(`naive vision: no float64 reference of the ${config.arch} family's feature selection and connector`);
  return connector(config, states, { side, d, get, pre, options });
}

interface FrameState {
  /** Patches a side: the tower has side * side rows. */
  side: number;
  d: number;
  get: (name: string) => Float32Array;
  /** The tower's weight prefix. */
  pre: string;
  options: NaiveVisionOptions;
}

/** Each family's feature selection and connector on the tower's hidden states (embeddings output,
 *  then each layer's), written out apart from the family modules so that it checks them. */
const connectors: Record<string, (config: ModelConfig, states: Float64Array[], frame: FrameState) => Float64Array> = {
  'llava-onevision': (base, states, { side, d, get, pre, options }) => {
    const config = base as LlavaOnevisionConfig;
    const seq = side * side;
    const v = config.vision;
    const h = config.text.hiddenSize;
    const at = config.visionFeatureLayer < 0 ? states.length + config.visionFeatureLayer : config.visionFeatureLayer;
    let selected: Float64Array = states[at];
    if (selected === undefined) throw new Error(`naive vision: no hidden state ${config.visionFeatureLayer}`);
    if (options.postLayerNorm) selected = layerNorm(selected, seq, d, get(`${pre}post_layernorm.weight`), get(`${pre}post_layernorm.bias`), v.layerNormEps);
    // "default" drops the first token (a CLS token in CLIP towers; SigLIP has none).
    const dropped = config.visionFeatureSelectStrategy === 'default' ? 1 : 0;
    const rows = seq - dropped;
    selected = selected.subarray(dropped * d);
    const bias = (name: string) => (config.projectorBias ? get(name) : undefined);
    const x1 = linear(selected, rows, d, get('multi_modal_projector.linear_1.weight'), h, bias('multi_modal_projector.linear_1.bias')).map(naiveActivation(config.projectorHiddenAct));
    return linear(x1, rows, h, get('multi_modal_projector.linear_2.weight'), h, bias('multi_modal_projector.linear_2.bias'));
  },
  idefics3: idefics3Connector,
  // SmolVLM2 is Idefics3's tower and connector with another prompt.
  smolvlm: idefics3Connector,
};

function idefics3Connector(base: ModelConfig, states: Float64Array[], { side, d, get, pre, options }: FrameState): Float64Array {
  const config = base as Idefics3Config;
  const v = config.vision;
  const h = config.text.hiddenSize;
  const seq = side * side;
  const hidden = states[states.length - 1];
  const last = options.postLayerNorm === false ? hidden : layerNorm(hidden, seq, d, get(`${pre}post_layernorm.weight`), get(`${pre}post_layernorm.bias`), v.layerNormEps);
  // pixel_shuffle: view [side, side/s, d*s]; permute -> [side/s, side, d*s]; view [side/s, side/s, d*s*s];
  // permute -> [side/s, side/s, d*s*s]; view [seq/s^2, d*s^2]. Views move no data.
  const s = config.scaleFactor;
  const first = swapLeading(last, side, side / s, d * s);
  const shuffled = swapLeading(first, side / s, side / s, d * s * s);
  return linear(shuffled, seq / (s * s), d * s * s, get('model.connector.modality_projection.proj.weight'), h);
}

/** pixel_values [frames, 3, S, S] to features [frames, tokens, text hidden], in float64. */
export function naiveVisionForward(config: ModelConfig, weights: ModelWeights, pixelValues: ArrayLike<number>, frames: number, options: NaiveVisionOptions = {}): Float64Array {
  const per = 3 * config.vision.imageSize ** 2;
  if (pixelValues.length !== frames * per) throw new Error(`naive vision: ${pixelValues.length} pixel values for ${frames} frames of ${per}`);
  const outs = Array.from({ length: frames }, (_, f) => frameForward(config, weights, Float64Array.from({ length: per }, (_, i) => pixelValues[f * per + i]), options));
  return concatTyped(outs, (n) => new Float64Array(n));
}
