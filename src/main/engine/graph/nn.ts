// Composite layers built from primitive ops only, so the autodiff differentiates them with no rules
// of their own. Numerics follow Hugging Face transformers: models/llama/modeling_llama.py
// (LlamaRMSNorm, LlamaRotaryEmbedding, rotate_half, apply_rotary_pos_emb, repeat_kv,
// eager_attention_forward; Qwen2 is the same with q/k/v biases) and models/siglip/modeling_siglip.py
// (SiglipEncoderLayer: LayerNorm, unmasked attention, gelu_pytorch_tanh MLP).
// A projection's weight is torch's Linear [out, in] used through Gemm's transB (the decoder), or in
// MatMul layout [in, out], transposed once on load (the vision tower and the projector).
import type { GraphBuilder } from './builder';
import type { ElementType } from './element-type';
import type { Value } from './ir';

/** Added to masked attention scores: large and finite (never -inf, which turns fully masked rows into NaN). */
export const maskNegative = (dtype: ElementType): number => (dtype === 'float16' ? -3e4 : -1e9);

/** A linear layer with optional bias and LoRA adapter: x @ W + bias + scale * (dropout(x) @ A) @ B. */
export interface Projection {
  /** [in, out] (MatMul layout), or [out, in] as torch stores it when `outIn` is set. */
  weight: Value;
  /** The weight is torch's [out, in], applied through Gemm's transB on the input's rows: no transposed
   *  copy is made, and batched decoding on unpacked weights is faster so (docs/engine.md). */
  outIn?: boolean;
  bias?: Value;
  /** PEFT's order: dropout applies to the adapter's input only (lora_B(lora_A(dropout(x)))). */
  lora?: { a: Value; b: Value; scale: number; dropout?: (x: Value) => Value };
}

export function linear(b: GraphBuilder, x: Value, p: Projection): Value {
  // The scale multiplies the rank-r tensor, not the full-width delta: r columns instead of out.
  const adapterDelta = (input: Value) => b.scope('lora', () => {
    const { a, b: up, scale, dropout } = p.lora!;
    const down = b.matmul(dropout ? dropout(input) : input, a);
    return b.matmul(scale === 1 ? down : b.mul(down, scale), up);
  });
  if (p.outIn) {
    const rank = x.shape.length;
    const outF = p.weight.shape[0] as number;
    const rows = (v: Value) => (rank === 2 ? v : b.flatten(v, rank - 1));
    // The adapter's delta (and the bias) go in as Gemm's C: one pass over the output instead of two.
    const delta = p.lora === undefined ? undefined : adapterDelta(x);
    const c = delta === undefined ? p.bias : p.bias === undefined ? rows(delta) : b.add(rows(delta), p.bias);
    const y = b.gemm(rows(x), p.weight, c, { transB: true });
    if (rank === 2) return y;
    const shape = b.concat([b.shape(x, 0, rank - 1), b.ints([outF])], 0);
    return b.reshape(y, shape, [...x.shape.slice(0, -1), outF]);
  }
  let y = b.matmul(x, p.weight);
  if (p.bias !== undefined) y = b.add(y, p.bias);
  if (p.lora !== undefined) y = b.add(y, adapterDelta(x));
  return y;
}

/** LlamaRMSNorm: x / sqrt(mean(x^2) + eps) * weight, over the last axis. */
export function rmsNorm(b: GraphBuilder, x: Value, weight: Value, eps: number): Value {
  // Pow(x, 2), the pattern ONNX Runtime fuses into one SimplifiedLayerNormalization (Mul(x, x) is
  // not matched); its gradient is 2 x g, with no Pow (autodiff/rules.ts).
  const variance = b.reduceMean(b.pow(x, 2), [-1], true);
  return b.mul(b.div(x, b.sqrt(b.add(variance, eps))), weight);
}

/** torch.nn.LayerNorm over the last axis (biased variance). */
export function layerNorm(b: GraphBuilder, x: Value, weight: Value, bias: Value, eps: number): Value {
  const centred = b.sub(x, b.reduceMean(x, [-1], true));
  const variance = b.reduceMean(b.mul(centred, centred), [-1], true);
  return b.add(b.mul(b.div(centred, b.sqrt(b.add(variance, eps))), weight), bias);
}

/** gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
export function geluTanh(b: GraphBuilder, x: Value): Value {
  const inner = b.mul(b.add(x, b.mul(b.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return b.mul(b.mul(x, 0.5), b.add(b.tanh(inner), 1));
}

/** Exact GELU: 0.5 x (1 + erf(x / sqrt 2)). */
export function geluErf(b: GraphBuilder, x: Value): Value {
  return b.mul(b.mul(x, 0.5), b.add(b.erf(b.mul(x, Math.SQRT1_2)), 1));
}

export const silu = (b: GraphBuilder, x: Value): Value => b.mul(x, b.sigmoid(x));

export type Activation = (b: GraphBuilder, x: Value) => Value;

/** transformers' ACT2FN entries a config may name (hidden_act, projector_hidden_act), by that name:
 *  "gelu" is exact, "gelu_new", "gelu_fast" and "gelu_pytorch_tanh" are the tanh approximation. */
export const activations: Readonly<Record<string, Activation>> = {
  gelu: geluErf,
  gelu_new: geluTanh,
  gelu_fast: geluTanh,
  gelu_pytorch_tanh: geluTanh,
  quick_gelu: (b, x) => b.mul(x, b.sigmoid(b.mul(x, 1.702))),
  silu,
  swish: silu,
  relu: (b, x) => b.where(b.greater(x, 0), x, b.scalar(0, x.dtype)),
};

export const activationNames = Object.keys(activations);

/** log(sigmoid(x)) = -softplus(-x), stable for large |x| (DPO's loss). */
export const logSigmoid = (b: GraphBuilder, x: Value): Value => b.neg(b.softplus(b.neg(x)));

/**
 * Rotary tables from integer positions [batch, seq]: cos and sin of [batch, seq, headDim], with
 * inv_freq[i] = theta^(-2i/headDim) (the default rope; model/rope.ts has the scaled ones).
 */
export function rotaryCosSin(b: GraphBuilder, positionIds: Value, headDim: number, theta: number): { cos: Value; sin: Value } {
  return b.scope('rotary', () => {
    const invFreq = b.constant('float32', [headDim / 2], Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim)));
    return rotaryFromInvFreq(b, positionIds, invFreq);
  });
}

/** cos and sin [batch, seq, 2 * half] of positions [batch, seq] times inv_freq [half], the frequencies
 *  repeated twice as LlamaRotaryEmbedding does, both times `scaling` (YaRN's attention factor). */
export function rotaryFromInvFreq(b: GraphBuilder, positionIds: Value, invFreq: Value, scaling = 1): { cos: Value; sin: Value } {
  const freqs = b.mul(b.unsqueeze(b.cast(positionIds, 'float32'), [-1]), invFreq);
  const emb = b.concat([freqs, freqs], -1);
  if (scaling === 1) return { cos: b.cos(emb), sin: b.sin(emb) };
  return { cos: b.mul(b.cos(emb), scaling), sin: b.mul(b.sin(emb), scaling) };
}

/** rotate_half: concat(-x2, x1) of the last axis' halves. */
export function rotateHalf(b: GraphBuilder, x: Value): Value {
  const d = x.shape[x.shape.length - 1];
  if (typeof d !== 'number' || d % 2 !== 0) throw new Error(`rotateHalf: last dim of '${x.name}' must be even and static, got ${d}`);
  const x1 = b.slice(x, [0], [d / 2], [-1]);
  const x2 = b.slice(x, [d / 2], [d], [-1]);
  return b.concat([b.neg(x2), x1], -1);
}

/** apply_rotary_pos_emb on [batch, heads, seq, headDim] with cos/sin of [batch, seq, headDim]. */
export function applyRotary(b: GraphBuilder, x: Value, cos: Value, sin: Value): Value {
  return b.add(b.mul(x, b.unsqueeze(cos, [1])), b.mul(rotateHalf(b, x), b.unsqueeze(sin, [1])));
}

/** repeat_kv: [batch, kvHeads, seq, d] to [batch, kvHeads * nRep, seq, d] (Unsqueeze, Expand, Reshape). */
export function repeatKv(b: GraphBuilder, x: Value, nRep: number): Value {
  if (nRep === 1) return x;
  const [, kvHeads, , d] = x.shape;
  if (typeof kvHeads !== 'number' || typeof d !== 'number') throw new Error(`repeatKv: heads and head dim of '${x.name}' must be static`);
  const expanded = b.expand(b.unsqueeze(x, [2]), [1, 1, nRep, 1, 1]);
  return b.reshape(expanded, [0, kvHeads * nRep, -1, d]);
}

/**
 * Additive attention mask [batch, 1, q, k]: 0 where key position <= query position (and the key
 * is not padding), maskNegative elsewhere. Positions are int64 [batch, q] and [batch, k]; keyMask
 * is int64 [batch, k] with 1 for real tokens, 0 for padding.
 */
export function causalMask(b: GraphBuilder, queryPositions: Value, keyPositions: Value, keyMask?: Value, dtype: ElementType = 'float32'): Value {
  return b.scope('mask', () => {
    let masked = b.greater(b.unsqueeze(keyPositions, [1, 2]), b.unsqueeze(queryPositions, [1, 3]));
    if (keyMask !== undefined) masked = b.or(masked, b.unsqueeze(b.equal(keyMask, b.scalar(0, keyMask.dtype)), [1, 2]));
    return b.where(masked, b.scalar(maskNegative(dtype), dtype), b.scalar(0, dtype));
  });
}

export interface AttentionConfig {
  heads: number;
  kvHeads: number;
  headDim: number;
}

export interface AttentionWeights { q: Projection; k: Projection; v: Projection; o: Projection }

/** [batch, seq, heads * d] to [batch, heads, seq, d]. */
const splitHeads = (b: GraphBuilder, x: Value, heads: number, d: number): Value => b.transpose(b.reshape(x, [0, 0, heads, d]), [0, 2, 1, 3]);

/**
 * Multi-head self-attention with grouped-query KV heads, eager form: softmax(q k^T / sqrt(d) + mask) v.
 * `rotary` applies RoPE to q and k; `mask` is additive [batch, 1, q, k] (none: bidirectional, as SigLIP).
 */
export function selfAttention(
  b: GraphBuilder, x: Value, w: AttentionWeights, cfg: AttentionConfig,
  opts: { rotary?: { cos: Value; sin: Value }; mask?: Value } = {},
): Value {
  const { heads, kvHeads, headDim } = cfg;
  if (heads % kvHeads !== 0) throw new Error(`selfAttention: ${heads} heads is not a multiple of ${kvHeads} KV heads`);
  let q = splitHeads(b, b.scope('q_proj', () => linear(b, x, w.q)), heads, headDim);
  let k = splitHeads(b, b.scope('k_proj', () => linear(b, x, w.k)), kvHeads, headDim);
  const v = splitHeads(b, b.scope('v_proj', () => linear(b, x, w.v)), kvHeads, headDim);
  if (opts.rotary !== undefined) {
    const { cos, sin } = opts.rotary;
    q = b.scope('q_rotary', () => applyRotary(b, q, cos, sin));
    k = b.scope('k_rotary', () => applyRotary(b, k, cos, sin));
  }
  const out = b.scope('sdpa', () => {
    const kr = repeatKv(b, k, heads / kvHeads);
    const vr = repeatKv(b, v, heads / kvHeads);
    let scores = b.mul(b.matmul(q, b.transpose(kr, [0, 1, 3, 2])), headDim ** -0.5);
    if (opts.mask !== undefined) scores = b.add(scores, opts.mask);
    return b.matmul(b.softmax(scores, -1), vr);
  });
  const merged = b.reshape(b.transpose(out, [0, 2, 1, 3]), [0, 0, heads * headDim]);
  return b.scope('o_proj', () => linear(b, merged, w.o));
}

/** LlamaMLP / Qwen2MLP: down(act(gate(x)) * up(x)), act silu unless the config says otherwise. */
export function gatedMlp(b: GraphBuilder, x: Value, w: { gate: Projection; up: Projection; down: Projection }, act: Activation = silu): Value {
  const gate = b.scope('gate_proj', () => linear(b, x, w.gate));
  const up = b.scope('up_proj', () => linear(b, x, w.up));
  return b.scope('down_proj', () => linear(b, b.mul(act(b, gate), up), w.down));
}

export interface DecoderLayerWeights extends AttentionWeights {
  inputNorm: Value;
  postNorm: Value;
  gate: Projection;
  up: Projection;
  down: Projection;
}

/** LlamaDecoderLayer / Qwen2DecoderLayer (pre-norm residual blocks). */
export function decoderLayer(
  b: GraphBuilder, x: Value, w: DecoderLayerWeights, cfg: AttentionConfig & { rmsEps: number },
  ctx: { rotary: { cos: Value; sin: Value }; mask: Value },
): Value {
  const attn = b.scope('self_attn', () => selfAttention(b, rmsNorm(b, x, w.inputNorm, cfg.rmsEps), w, cfg, ctx));
  const h = b.add(x, attn);
  const mlp = b.scope('mlp', () => gatedMlp(b, rmsNorm(b, h, w.postNorm, cfg.rmsEps), w));
  return b.add(h, mlp);
}

export interface VisionLayerWeights extends AttentionWeights {
  norm1: { weight: Value; bias: Value };
  norm2: { weight: Value; bias: Value };
  fc1: Projection;
  fc2: Projection;
}

/** SiglipEncoderLayer: LayerNorm, bidirectional attention, LayerNorm, fc1-act-fc2, residuals; the
 *  activation is the config's hidden_act (gelu_pytorch_tanh in SigLIP checkpoints). */
export function visionEncoderLayer(
  b: GraphBuilder, x: Value, w: VisionLayerWeights, cfg: AttentionConfig & { lnEps: number },
  act: (b: GraphBuilder, x: Value) => Value = geluTanh,
): Value {
  const attn = b.scope('self_attn', () => selfAttention(b, layerNorm(b, x, w.norm1.weight, w.norm1.bias, cfg.lnEps), w, cfg));
  const h = b.add(x, attn);
  const mlp = b.scope('mlp', () => {
    const n = layerNorm(b, h, w.norm2.weight, w.norm2.bias, cfg.lnEps);
    return b.scope('fc2', () => linear(b, act(b, b.scope('fc1', () => linear(b, n, w.fc1))), w.fc2));
  });
  return b.add(h, mlp);
}

/**
 * Mean token cross-entropy: -mean over (batch, seq) of log_softmax(logits)[label], the label picked
 * with OneHot (so the gradient needs no scatter). logits [batch, seq, vocab], labels int64 [batch, seq].
 */
export function crossEntropy(b: GraphBuilder, logits: Value, labels: Value): Value {
  return b.scope('cross_entropy', () => {
    const vocab = logits.shape[logits.shape.length - 1];
    const picked = b.reduceSum(b.mul(b.logSoftmax(logits, -1), b.oneHot(labels, typeof vocab === 'number' ? vocab : b.shape(logits, -1), logits.dtype)), [-1], false);
    return b.neg(b.reduceMean(picked, undefined, false));
  });
}
