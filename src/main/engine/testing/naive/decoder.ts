// An independent float64 forward of the Qwen2/Llama decoder in plain loops, straight from the
// checkpoint's torch-layout weights: no GraphBuilder, no ONNX, no batching, no cache. It exists to
// check the ONNX decoder (model/decoder.ts) in tests, so it is written to be obviously right, not
// fast. Follows transformers models/llama/modeling_llama.py and models/qwen2/modeling_qwen2.py
// (LlamaRMSNorm, LlamaRotaryEmbedding + rotate_half, repeat_kv, eager attention with a causal
// mask, LlamaMLP, tied lm_head) and modeling_rope_utils.py (naive/rope.ts).
import type { ModelConfig } from '../../model/config';
import { textWeightNames } from '../../model/decoder';
import type { ModelWeights } from '../../model/weights';
import { naiveActivation } from './activations';
import { naiveInvFreq } from './rope';

/** LoRA factors of one module in MatMul layout: a [in, r], b [r, out]; adds scale * x a b. */
export interface NaiveLora { a: Float32Array; b: Float32Array; r: number; scale: number }

export interface NaiveOptions {
  /** Also return every layer's attention probabilities [heads, seq, seq]. */
  attention?: boolean;
  /** By PEFT module path relative to the text model ('model.layers.0.self_attn.q_proj'). */
  lora?: ReadonlyMap<string, NaiveLora>;
}

/** Rows of the embedding matrix for `ids`: [ids.length, hidden]. */
export function naiveEmbed(config: ModelConfig, weights: ModelWeights, ids: readonly number[]): Float64Array {
  const h = config.text.hiddenSize;
  const table = weights.get(`${textWeightNames(config).prefix}embed_tokens.weight`);
  const out = new Float64Array(ids.length * h);
  ids.forEach((id, t) => {
    for (let i = 0; i < h; i++) out[t * h + i] = table[id * h + i];
  });
  return out;
}

/** y[t] = W x[t] + bias for torch-layout W [out, in]. */
export function linear(x: Float64Array, rows: number, inF: number, w: Float32Array, outF: number, bias?: Float32Array, lora?: NaiveLora): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let t = 0; t < rows; t++) {
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < inF; i++) s += w[o * inF + i] * x[t * inF + i];
      y[t * outF + o] = s;
    }
    if (lora) {
      const xa = new Float64Array(lora.r);
      for (let j = 0; j < lora.r; j++) for (let i = 0; i < inF; i++) xa[j] += x[t * inF + i] * lora.a[i * lora.r + j];
      for (let o = 0; o < outF; o++) {
        let s = 0;
        for (let j = 0; j < lora.r; j++) s += xa[j] * lora.b[j * outF + o];
        y[t * outF + o] += lora.scale * s;
      }
    }
  }
  return y;
}

function rmsNorm(x: Float64Array, rows: number, d: number, w: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let t = 0; t < rows; t++) {
    let ms = 0;
    for (let i = 0; i < d; i++) ms += x[t * d + i] ** 2;
    const inv = 1 / Math.sqrt(ms / d + eps);
    for (let i = 0; i < d; i++) y[t * d + i] = x[t * d + i] * inv * w[i];
  }
  return y;
}

/** RoPE in place on [seq, nHeads * d] with positions 0..seq-1: (x cos + rotate_half(x) sin) * scale. */
function rope(x: Float64Array, seq: number, nHeads: number, d: number, invFreq: readonly number[], scale: number): void {
  const half = d / 2;
  for (let t = 0; t < seq; t++) {
    for (let hd = 0; hd < nHeads; hd++) {
      const base = t * nHeads * d + hd * d;
      for (let j = 0; j < half; j++) {
        const angle = t * invFreq[j];
        const [c, s] = [Math.cos(angle) * scale, Math.sin(angle) * scale];
        const [x1, x2] = [x[base + j], x[base + half + j]];
        x[base + j] = x1 * c - x2 * s;
        x[base + half + j] = x2 * c + x1 * s;
      }
    }
  }
}

/** Logits [seq, vocab] of one unpadded sequence at positions 0..seq-1, from its embeddings [seq, hidden]. */
export function naiveForward(
  config: ModelConfig, weights: ModelWeights, inputsEmbeds: ArrayLike<number>, seq: number, options: NaiveOptions = {},
): { logits: Float64Array; attentions: Float64Array[] } {
  const t = config.text;
  const { prefix, lmHead } = textWeightNames(config);
  const [hid, heads, kvHeads, d] = [t.hiddenSize, t.numHeads, t.numKvHeads, t.headDim];
  const group = heads / kvHeads;
  const get = (name: string) => weights.get(`${prefix}${name}`);
  const proj = (x: Float64Array, path: string, inF: number, outF: number, biased: boolean) =>
    linear(x, seq, inF, get(`${path}.weight`), outF, biased ? get(`${path}.bias`) : undefined, options.lora?.get(`model.${path}`));

  const rotary = naiveInvFreq(t.rope, seq);
  const act = naiveActivation(t.hiddenAct);
  let h = Float64Array.from(inputsEmbeds);
  const attentions: Float64Array[] = [];
  for (let l = 0; l < t.numLayers; l++) {
    const p = `layers.${l}`;
    const x = rmsNorm(h, seq, hid, get(`${p}.input_layernorm.weight`), t.rmsNormEps);
    const q = proj(x, `${p}.self_attn.q_proj`, hid, heads * d, t.qkvBias);
    const k = proj(x, `${p}.self_attn.k_proj`, hid, kvHeads * d, t.qkvBias);
    const v = proj(x, `${p}.self_attn.v_proj`, hid, kvHeads * d, t.qkvBias);
    rope(q, seq, heads, d, rotary.invFreq, rotary.scale);
    rope(k, seq, kvHeads, d, rotary.invFreq, rotary.scale);
    const probs = new Float64Array(heads * seq * seq);
    const ctx = new Float64Array(seq * heads * d);
    for (let hd = 0; hd < heads; hd++) {
      const g = Math.floor(hd / group); // repeat_kv: query head hd reads KV head hd / group
      for (let i = 0; i < seq; i++) {
        const scores = new Float64Array(i + 1);
        for (let j = 0; j <= i; j++) {
          let s = 0;
          for (let e = 0; e < d; e++) s += q[i * heads * d + hd * d + e] * k[j * kvHeads * d + g * d + e];
          scores[j] = s / Math.sqrt(d);
        }
        const max = Math.max(...scores);
        let total = 0;
        for (let j = 0; j <= i; j++) total += Math.exp(scores[j] - max);
        for (let j = 0; j <= i; j++) {
          const pr = Math.exp(scores[j] - max) / total;
          probs[hd * seq * seq + i * seq + j] = pr;
          for (let e = 0; e < d; e++) ctx[i * heads * d + hd * d + e] += pr * v[j * kvHeads * d + g * d + e];
        }
      }
    }
    if (options.attention) attentions.push(probs);
    const attn = proj(ctx, `${p}.self_attn.o_proj`, heads * d, hid, t.outputBias);
    for (let i = 0; i < h.length; i++) h[i] += attn[i];
    const y = rmsNorm(h, seq, hid, get(`${p}.post_attention_layernorm.weight`), t.rmsNormEps);
    const gate = proj(y, `${p}.mlp.gate_proj`, hid, t.intermediateSize, t.mlpBias);
    const up = proj(y, `${p}.mlp.up_proj`, hid, t.intermediateSize, t.mlpBias);
    for (let i = 0; i < gate.length; i++) gate[i] = act(gate[i]) * up[i];
    const down = proj(gate, `${p}.mlp.down_proj`, t.intermediateSize, hid, t.mlpBias);
    h = h.map((value, i) => value + down[i]);
  }
  const final = rmsNorm(h, seq, hid, get('norm.weight'), t.rmsNormEps);
  const head = lmHead === null ? get('embed_tokens.weight') : weights.get(lmHead);
  return { logits: linear(final, seq, hid, head, t.vocabSize), attentions };
}
