// The text decoder every family composes (Qwen2 for LLaVA-OneVision, Llama for Idefics3) as ONNX graphs
// built with the GraphBuilder, from the checkpoint's own weights.
// Numerics follow transformers models/qwen2/modeling_qwen2.py and models/llama/modeling_llama.py:
// pre-norm residual layers, RoPE on q and k before they enter the cache (the cache holds rotated
// keys, as Cache.update after apply_rotary_pos_emb), grouped-query attention through repeat_kv,
// eager softmax(q k^T / sqrt(d) + mask) v, final RMSNorm, lm_head (the embedding matrix itself when
// tie_word_embeddings). Graph I/O names are the ones onnxruntime-genai's model builder
// (src/python/py/models/builder.py) gives decoders: inputs_embeds, attention_mask, position_ids,
// past_key_values.{i}.key/.value in, logits and present.{i}.key/.value out.
import { GraphBuilder } from '../graph/builder';
import type { Graph, Node, Shape, Value } from '../graph/ir';
import { activations, applyRotary, causalMask, gatedMlp, linear, repeatKv, rmsNorm, type Projection } from '../graph/nn';
import type { DecoderConfig, ModelConfig } from './config';
import { familyOf } from './families';
import { rotaryTables } from './rope';
import { graphWeight, type ModelWeights } from './weights';

/** Where the text model's weights live in the family's checkpoint (docs/families.md). */
export function textWeightNames(config: ModelConfig): { prefix: string; lmHead: string | null } {
  return familyOf(config).textWeights(config);
}

/** LoRA factors for one linear layer (MatMul layout: a [in, r], b [r, out]), or undefined to leave it frozen. */
export type AdapterProvider = (module: string, inFeatures: number, outFeatures: number) => Projection['lora'];

export interface DecoderGraphOptions {
  /** Called with each projection's PEFT module path relative to the text model, e.g. 'model.layers.0.self_attn.q_proj'. */
  adapter?: AdapterProvider;
  /** int64 [rows]: the positions along seq whose logits are computed ([batch, rows, vocab]), chosen when the graph runs. */
  logitsPositions?: Value;
  /** int64 [queries]: positions along seq whose rotated query states every layer outputs ([batch, heads, queries, headDim]):
   *  with the layer's keys they give those rows of its attention (attentionRows), which are never a [seq, seq] tensor here. */
  queryPositions?: Value;
}

export interface DecoderIo {
  /** float32 [batch, seq, hidden]. */
  inputsEmbeds: Value;
  /** int64 [batch, seq], or [batch, capacity + seq] with `past`: 1 for real tokens, 0 for padding and unused cache slots. */
  attentionMask: Value;
  /** int64 [batch, seq]: RoPE positions. */
  positionIds: Value;
  /** Per layer, the cache of rotated keys and values of earlier steps: [batch, kvHeads, capacity, headDim], its
   *  slots' use in attentionMask (which then is [batch, capacity + seq]). */
  past?: readonly { key: Value; value: Value }[];
}

export interface DecoderOutputs {
  /** [batch, seq or rows, vocab]. */
  logits: Value;
  /** Per layer, this step's rotated keys and values: [batch, kvHeads, seq, headDim] (the caller puts them into its cache). */
  present: { key: Value; value: Value }[];
  /** Per layer with queryPositions (else empty), the rotated queries at those positions [batch, heads, queries, headDim]. */
  queryStates: Value[];
}

/** Rows [batch * seq, heads * d] to [batch, heads, seq, d], `shape` being [batch, seq, heads, d] (HeadShapes). */
const splitHeads = (b: GraphBuilder, x: Value, shape: Value, heads: number, d: number): Value => b.transpose(b.reshape(x, shape, ['batch', 'seq', heads, d]), [0, 2, 1, 3]);

/** The Reshape targets [batch, seq, heads, d] of the query and key/value heads, computed once for every layer. */
interface HeadShapes { query: Value; keyValue: Value }

/** The canonical name of the text model's embedding matrix [vocab, hidden]. */
export const embeddingName = (config: ModelConfig): string => `${textWeightNames(config).prefix}embed_tokens.weight`;

function embeddingWeight(b: GraphBuilder, config: ModelConfig, weights: ModelWeights): Value {
  const name = embeddingName(config);
  return graphWeight(b, name, [config.text.vocabSize, config.text.hiddenSize], () => weights.shared(name, 'stored'));
}

/** Emits the decoder into `b` (composable: the training step builds it into its own graph). */
export function addDecoder(b: GraphBuilder, config: ModelConfig, weights: ModelWeights, io: DecoderIo, options: DecoderGraphOptions = {}): DecoderOutputs {
  const t = config.text;
  const { prefix, lmHead } = textWeightNames(config);
  if (io.past !== undefined && io.past.length !== t.numLayers) throw new Error(`past holds ${io.past.length} layers, the decoder has ${t.numLayers}`);

  // `path` is relative to the decoder stack ('layers.0.self_attn.q_proj'); the adapter sees PEFT's
  // module path relative to the text model, which has the stack under 'model.'.
  const proj = (path: string, inF: number, outF: number, biased: boolean): Projection => {
    const name = `${prefix}${path}`;
    const w = graphWeight(b, `${name}.weight`, [outF, inF], () => weights.shared(`${name}.weight`, 'stored'));
    const bias = biased ? graphWeight(b, `${name}.bias`, [outF], () => weights.shared(`${name}.bias`, 'stored')) : undefined;
    const lora = options.adapter?.(`model.${path}`, inF, outF);
    return { weight: w, outIn: true, ...(bias ? { bias } : {}), ...(lora ? { lora } : {}) };
  };
  const vector = (name: string) => graphWeight(b, `${prefix}${name}`, [t.hiddenSize], () => weights.shared(`${prefix}${name}`, 'stored'));

  const present: { key: Value; value: Value }[] = [];
  const queryStates: Value[] = [];
  const hidden = b.scope('model', () => {
    const rotary = rotaryTables(b, io.positionIds, t.rope);
    // With a cache, attention runs with the query heads grouped by the KV head they read (cachedAttention),
    // so the mask comes in that layout, and the sizes that split its scores are the same for every layer.
    const nRep = io.past === undefined ? 1 : t.numHeads / t.numKvHeads;
    const mask = b.scope('attention_mask', () => cacheMask(b, io.inputsEmbeds, io.attentionMask, nRep));
    const splitSizes = io.past === undefined ? undefined : b.concat([b.shape(io.past[0].key, 2, 3), b.shape(io.inputsEmbeds, 1, 2)], 0);
    // The layers work on rows [batch * seq, hidden], so each projection is one Gemm on its input as it
    // lies, with no Flatten and Reshape (and the shape arithmetic of their targets) around it: in a
    // decode step every node is a dispatch. The shapes the heads need are made once.
    const batchSeq = b.shape(io.inputsEmbeds, 0, 2);
    const heads: HeadShapes = {
      query: b.concat([batchSeq, b.ints([t.numHeads, t.headDim])], 0),
      keyValue: b.concat([batchSeq, b.ints([t.numKvHeads, t.headDim])], 0),
    };
    let h = b.reshape(io.inputsEmbeds, [-1, t.hiddenSize], ['tokens', t.hiddenSize]);
    for (let l = 0; l < t.numLayers; l++) {
      const m = `layers.${l}`;
      const q = t.numHeads * t.headDim;
      const kv = t.numKvHeads * t.headDim;
      h = b.scope(m, () => {
        const normed = b.scope('input_layernorm', () => rmsNorm(b, h, vector(`layers.${l}.input_layernorm.weight`), t.rmsNormEps));
        const attn = b.scope('self_attn', () => attention(b, normed, {
          q: proj(`${m}.self_attn.q_proj`, t.hiddenSize, q, t.qkvBias),
          k: proj(`${m}.self_attn.k_proj`, t.hiddenSize, kv, t.qkvBias),
          v: proj(`${m}.self_attn.v_proj`, t.hiddenSize, kv, t.qkvBias),
          o: proj(`${m}.self_attn.o_proj`, q, t.hiddenSize, t.outputBias),
        }, t, { rotary, mask, heads, past: io.past === undefined ? undefined : { ...io.past[l], splitSizes: splitSizes! } }));
        present.push(attn.present);
        if (options.queryPositions !== undefined) queryStates.push(b.scope('self_attn', () => b.scope('query_rows', () => b.gather(attn.query, options.queryPositions!, 2))));
        const mid = b.add(h, attn.out);
        const normed2 = b.scope('post_attention_layernorm', () => rmsNorm(b, mid, vector(`layers.${l}.post_attention_layernorm.weight`), t.rmsNormEps));
        const mlp = b.scope('mlp', () => gatedMlp(b, normed2, {
          gate: proj(`${m}.mlp.gate_proj`, t.hiddenSize, t.intermediateSize, t.mlpBias),
          up: proj(`${m}.mlp.up_proj`, t.hiddenSize, t.intermediateSize, t.mlpBias),
          down: proj(`${m}.mlp.down_proj`, t.intermediateSize, t.hiddenSize, t.mlpBias),
        }, activations[t.hiddenAct]));
        return b.add(mid, mlp);
      });
    }
    const h3 = b.reshape(h, b.concat([batchSeq, b.ints([t.hiddenSize])], 0), ['batch', 'seq', t.hiddenSize]);
    const last = options.logitsPositions === undefined ? h3 : b.scope('logits_rows', () => b.gather(h3, options.logitsPositions!, 1));
    return b.scope('norm', () => rmsNorm(b, last, vector('norm.weight'), t.rmsNormEps));
  });
  const logits = b.scope('lm_head', () => {
    // The head [vocab, hidden] as stored (the embedding matrix itself when tied), through Gemm's
    // transB like every projection: no transposed copy of the largest matrix exists, even for a moment.
    const head = lmHead === null
      ? embeddingWeight(b, config, weights)
      : graphWeight(b, lmHead, [t.vocabSize, t.hiddenSize], () => weights.shared(lmHead, 'stored'));
    return linear(b, hidden, { weight: head, outIn: true });
  });
  return { logits, present, queryStates };
}

/**
 * Additive mask [batch, 1, seq, total] over cache slots, not RoPE positions (left padding makes
 * those differ): query i of this step sits in slot total - seq + i and sees slots up to its own,
 * except padding (attention_mask 0). With `repeats` > 1 its rows repeat that many times,
 * [batch, 1, repeats * seq, total]: the rows of query heads grouped by KV head (cachedAttention).
 */
function cacheMask(b: GraphBuilder, inputsEmbeds: Value, attentionMask: Value, repeats: number): Value {
  const total = b.squeeze(b.shape(attentionMask, 1, 2), [0]);
  const seq = b.squeeze(b.shape(inputsEmbeds, 1, 2), [0]);
  const one = b.scalar(1, 'int64');
  const keySlots = b.unsqueeze(b.range(b.scalar(0, 'int64'), total, one), [0]);
  const slots = b.range(b.sub(total, seq), total, one);
  const querySlots = b.unsqueeze(repeats === 1 ? slots : b.concat(Array.from({ length: repeats }, () => slots), 0), [0]);
  return causalMask(b, querySlots, keySlots, attentionMask);
}

interface AttentionResult { out: Value; present: { key: Value; value: Value }; query: Value }

/** Grouped-query self-attention with a KV cache, returning its rotated queries too (nn.selfAttention has neither).
 *  `x` and the result are rows [batch * seq, hidden]. */
function attention(
  b: GraphBuilder, x: Value, w: { q: Projection; k: Projection; v: Projection; o: Projection }, t: DecoderConfig,
  ctx: { rotary: { cos: Value; sin: Value }; mask: Value; heads: HeadShapes; past?: CachedLayer },
): AttentionResult {
  const { cos, sin } = ctx.rotary;
  const qHeads = splitHeads(b, b.scope('q_proj', () => linear(b, x, w.q)), ctx.heads.query, t.numHeads, t.headDim);
  const kHeads = splitHeads(b, b.scope('k_proj', () => linear(b, x, w.k)), ctx.heads.keyValue, t.numKvHeads, t.headDim);
  const v = splitHeads(b, b.scope('v_proj', () => linear(b, x, w.v)), ctx.heads.keyValue, t.numKvHeads, t.headDim);
  const q = b.scope('q_rotary', () => applyRotary(b, qHeads, cos, sin));
  const k = b.scope('k_rotary', () => applyRotary(b, kHeads, cos, sin));
  const past = ctx.past;
  const out = b.scope('sdpa', () => {
    if (past !== undefined) return cachedAttention(b, q, { key: k, value: v }, past, ctx.mask, t);
    const nRep = t.numHeads / t.numKvHeads;
    const scores = b.mul(b.matmul(q, b.transpose(repeatKv(b, k, nRep), [0, 1, 3, 2])), t.headDim ** -0.5);
    return b.matmul(b.softmax(b.add(scores, ctx.mask), -1), repeatKv(b, v, nRep));
  });
  const merged = b.reshape(b.transpose(out, [0, 2, 1, 3]), [-1, t.numHeads * t.headDim], ['tokens', t.numHeads * t.headDim]);
  return { out: b.scope('o_proj', () => linear(b, merged, w.o)), present: { key: k, value: v }, query: q };
}

/** A layer's cache of earlier steps, and the sizes [capacity, seq] that split its attention's scores. */
interface CachedLayer { key: Value; value: Value; splitSizes: Value }

/**
 * Attention over the cache's slots and this step's keys without joining them: the scores against
 * each are concatenated (small), and the output is the sum of the two weighted parts, so the cache
 * [batch, kvHeads, capacity, headDim] is read where it lies, never copied, concatenated or repeated
 * per query head. Query heads are grouped by the KV head they read (h / nRep, as repeat_kv pairs
 * them), [batch, kvHeads, nRep * seq, headDim], and stay so until the weighted sum: `mask` comes in
 * that layout (cacheMask's repeats), and the scale multiplies the queries (headDim columns) rather than
 * the scores (capacity columns). Slots the step does not use are hidden by the mask. [batch, heads, seq, headDim].
 */
function cachedAttention(b: GraphBuilder, q: Value, step: { key: Value; value: Value }, past: CachedLayer, mask: Value, t: DecoderConfig): Value {
  const d = t.headDim;
  const grouped = b.reshape(b.mul(q, d ** -0.5), [0, t.numKvHeads, -1, 0]);
  const keysT = (keys: Value) => b.transpose(keys, [0, 1, 3, 2]);
  const scores = b.concat([b.matmul(grouped, keysT(past.key)), b.matmul(grouped, keysT(step.key))], 3);
  const probs = b.softmax(b.add(scores, mask), -1);
  const [onPast, onStep] = b.split(probs, past.splitSizes, 3, [['batch', t.numKvHeads, 'grouped', 'capacity'], ['batch', t.numKvHeads, 'grouped', 'seq']]);
  return b.reshape(b.add(b.matmul(onPast, past.value), b.matmul(onStep, step.value)), [0, t.numHeads, -1, d]);
}

/** Marks `v` an output named `name` with the declared shape (symbolic names a reader recognises). */
function namedOutput(b: GraphBuilder, v: Value, name: string, shape: Shape): void {
  b.output(b.node('Identity', [v], {}, { outNames: [name], outShapes: [shape] })[0]);
}

export const pastName = (layer: number, kind: 'key' | 'value'): string => `past_key_values.${layer}.${kind}`;
export const presentName = (layer: number, kind: 'key' | 'value'): string => `present.${layer}.${kind}`;
/** The whole cache after a step (withFullCache). */
export const fullCacheName = (layer: number, kind: 'key' | 'value'): string => `present_full.${layer}.${kind}`;
/** int64 [1]: the past's slots in use, after which withFullCache writes the step's keys and values. */
export const CACHE_POSITION = 'cache_position';
export const queryStatesName = (layer: number): string => `query_states.${layer}`;
/** Inputs of a graph built with rowsAtRunTime. */
export const LOGITS_POSITIONS = 'logits_positions';
export const QUERY_POSITIONS = 'query_positions';

/**
 * The decoder graph with, beside each layer's step keys and values, the whole cache after the step:
 * the past's first `cache_position` slots, the step's, then the past's rest (none when the step
 * reaches past its capacity, which then grows to hold it). For a provider that keeps outputs on
 * the device and takes them back as the next step's past (graph/session.ts deviceOutputs), so the
 * cache stays there between steps.
 */
export function withFullCache(graph: Graph, config: ModelConfig): Graph {
  const t = config.text;
  const b = GraphBuilder.extend(graph);
  const at = b.input(CACHE_POSITION, 'int64', [1]);
  const slotAxis = b.ints([2]);
  b.scope('present_full', () => {
    for (let l = 0; l < t.numLayers; l++) {
      for (const kind of ['key', 'value'] as const) {
        const past = b.value(pastName(l, kind));
        const step = b.value(presentName(l, kind));
        const head = b.node('Slice', [past, b.ints([0]), at, slotAxis])[0];
        const tail = b.node('Slice', [past, b.add(at, b.shape(step, 2, 3)), b.ints([Number.MAX_SAFE_INTEGER]), slotAxis])[0];
        namedOutput(b, b.concat([head, step, tail], 2), fullCacheName(l, kind), ['batch', t.numKvHeads, 'slots', t.headDim]);
      }
    }
  });
  return b.build();
}

export interface DecoderGraphBuild {
  kvCache: boolean;
  /**
   * Inputs `logits_positions` (int64 [rows]) and `query_positions` (int64 [queries]) choose, on each
   * run, the positions whose logits are computed and whose query states every layer outputs (with
   * the keys in `present`, the rows of attention maps; an empty list makes them empty): one graph,
   * so one session, for decoding, full logits and attention maps (ORT runs a whole graph whatever
   * is fetched, so what a run needs must be chosen by its inputs, not its fetches). Needs kvCache.
   */
  rowsAtRunTime?: boolean;
  adapter?: AdapterProvider;
}

/** Where the decoder keeps float32 when it runs in float16 (graph/float16.ts): the norms (a mean of
 *  squares overflows float16 past 256), the rotary angles (positions times frequencies), the mask and
 *  attention itself (scores, softmax and the weighted sum over the float32 cache), as transformers'
 *  upcasts do; the projections, the MLP and the head, where the weights are, run in float16. */
export function decoderKeepsFloat32(node: Node): boolean {
  return node.name.split('/').some((scope) => FLOAT32_SCOPES.has(scope));
}

const FLOAT32_SCOPES = new Set(['rotary', 'attention_mask', 'input_layernorm', 'post_attention_layernorm', 'norm', 'sdpa', 'present_full']);

/** The decoder as a graph of its own, with the standard I/O names (see the file comment). */
export function buildDecoderGraph(config: ModelConfig, weights: ModelWeights, options: DecoderGraphBuild): Graph {
  const t = config.text;
  const b = new GraphBuilder('decoder');
  const rows = options.rowsAtRunTime === true;
  if (rows && !options.kvCache) throw new Error('buildDecoderGraph: rowsAtRunTime needs kvCache (attention rows are read from the present keys)');
  const io: DecoderIo = {
    inputsEmbeds: b.input('inputs_embeds', 'float32', ['batch', 'seq', t.hiddenSize]),
    attentionMask: b.input('attention_mask', 'int64', ['batch', 'total']),
    positionIds: b.input('position_ids', 'int64', ['batch', 'seq']),
    ...(options.kvCache
      ? {
          past: Array.from({ length: t.numLayers }, (_, l) => ({
            key: b.input(pastName(l, 'key'), 'float32', ['batch', t.numKvHeads, 'capacity', t.headDim]),
            value: b.input(pastName(l, 'value'), 'float32', ['batch', t.numKvHeads, 'capacity', t.headDim]),
          })),
        }
      : {}),
  };
  const out = addDecoder(b, config, weights, io, {
    adapter: options.adapter,
    ...(rows ? { logitsPositions: b.input(LOGITS_POSITIONS, 'int64', ['rows']), queryPositions: b.input(QUERY_POSITIONS, 'int64', ['queries']) } : {}),
  });
  namedOutput(b, out.logits, 'logits', ['batch', rows ? 'rows' : 'seq', t.vocabSize]);
  if (options.kvCache) {
    out.present.forEach(({ key, value }, l) => {
      namedOutput(b, key, presentName(l, 'key'), ['batch', t.numKvHeads, 'seq', t.headDim]);
      namedOutput(b, value, presentName(l, 'value'), ['batch', t.numKvHeads, 'seq', t.headDim]);
    });
  }
  out.queryStates.forEach((q, l) => namedOutput(b, q, queryStatesName(l), ['batch', t.numHeads, 'queries', t.headDim]));
  return b.build();
}

/**
 * Rows of one layer's attention probabilities for a batch of one, from its rotated query states
 * [heads, queries, headDim] and its keys [kvHeads, total, headDim]: softmax(q k^T / sqrt(headDim))
 * over the key slots up to each query's own (`slots`, its slot in the cache; later slots get 0, as
 * the causal mask gives them), query head h reading KV head h / (heads / kvHeads) as repeat_kv does.
 * [heads, queries, total].
 */
export function attentionRows(queries: Float32Array, keys: Float32Array, slots: readonly number[], dims: { heads: number; kvHeads: number; headDim: number; total: number }): Float32Array {
  const { heads, kvHeads, headDim: d, total } = dims;
  const n = slots.length;
  const out = new Float32Array(heads * n * total);
  const scores = new Float64Array(total);
  const scale = 1 / Math.sqrt(d);
  for (let h = 0; h < heads; h++) {
    const kv = Math.floor(h / (heads / kvHeads));
    for (let i = 0; i < n; i++) {
      const q = (h * n + i) * d;
      const last = slots[i];
      let max = -Infinity;
      for (let j = 0; j <= last; j++) {
        let s = 0;
        const k = (kv * total + j) * d;
        for (let e = 0; e < d; e++) s += queries[q + e] * keys[k + e];
        scores[j] = s * scale;
        if (scores[j] > max) max = scores[j];
      }
      let sum = 0;
      for (let j = 0; j <= last; j++) sum += (scores[j] = Math.exp(scores[j] - max));
      const row = (h * n + i) * total;
      for (let j = 0; j <= last; j++) out[row + j] = scores[j] / sum;
    }
  }
  return out;
}
