// The text side of a loaded model as ONNX Runtime sessions: token embeddings (with a prompt's
// visual feature rows spliced in, as modeling_llava_onevision.py / modeling_idefics3.py
// masked_scatter them over the image or video tokens) and the decoder with its KV cache. Each graph
// is built and its session created on first use, once: a graph holds its own copy of the weights,
// so a generation-only run pays for the last-logits decoder alone.
import * as ort from 'onnxruntime-node';
import type { Graph } from '../graph/ir';
import { serialize } from '../graph/onnx';
import { Session, type SessionOptions } from '../graph/session';
import type { ModelConfig } from './config';
import { attentionName, buildDecoderGraph, buildEmbeddingGraph, pastName, presentName } from './decoder';
import type { ModelWeights } from './weights';

/** Rotated keys and values of every layer ([batch, kvHeads, length, headDim] ORT tensors). */
export interface KvCache {
  layers: { key: ort.Tensor; value: ort.Tensor }[];
  batch: number;
  length: number;
}

export interface ForwardStep {
  /** [batch, seq, hidden]. */
  inputsEmbeds: Float32Array;
  batch: number;
  seq: number;
  /** [batch, past + seq]: 1 real, 0 padding. */
  attentionMask: BigInt64Array;
  /** [batch, seq]. */
  positionIds: BigInt64Array;
  past: KvCache | null;
  /** Logits of the last position only: [batch, 1, vocab] instead of [batch, seq, vocab]. */
  lastLogitsOnly: boolean;
}

/** The cache rows `rows` (in that order; repeats duplicate a row), e.g. to drop finished sequences. */
export function selectCacheRows(cache: KvCache, rows: readonly number[]): KvCache {
  const pick = (t: ort.Tensor): ort.Tensor => {
    const [, kvHeads, length, headDim] = t.dims;
    const size = kvHeads * length * headDim;
    const src = t.data as Float32Array;
    const out = new Float32Array(rows.length * size);
    rows.forEach((r, i) => out.set(src.subarray(r * size, (r + 1) * size), i * size));
    return new ort.Tensor('float32', out, [rows.length, kvHeads, length, headDim]);
  };
  return { layers: cache.layers.map(({ key, value }) => ({ key: pick(key), value: pick(value) })), batch: rows.length, length: cache.length };
}

export class LanguageModel {
  private readonly sessions = new Map<string, Promise<Session>>();

  private constructor(
    readonly config: ModelConfig,
    private readonly weights: ModelWeights,
    private readonly options: Omit<SessionOptions, 'graphName'>,
    private readonly embedding: Session,
  ) {}

  static async create(config: ModelConfig, weights: ModelWeights, options: Omit<SessionOptions, 'graphName'> = {}): Promise<LanguageModel> {
    const embedding = await Session.create(serialize(buildEmbeddingGraph(config, weights)), { ...options, graphName: 'embed_tokens' });
    return new LanguageModel(config, weights, options, embedding);
  }

  get hiddenSize(): number {
    return this.config.text.hiddenSize;
  }

  /**
   * Token embeddings [ids.length, hidden]; with `visual`, the rows of tokens equal to `tokenId` are
   * replaced, in order, by the rows of `features` [n, hidden].
   */
  async embed(inputIds: readonly number[], visual?: { tokenId: number; features: Float32Array }): Promise<Float32Array> {
    const { vocabSize } = this.config.text;
    const hidden = this.hiddenSize;
    const bad = inputIds.find((id) => !(Number.isInteger(id) && id >= 0 && id < vocabSize));
    if (bad !== undefined) throw new Error(`token id ${bad} is outside the vocabulary of ${vocabSize}`);
    const out = await this.embedding.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(inputIds, (id) => BigInt(id)), [1, inputIds.length]),
    });
    const embeds = out.inputs_embeds.data as Float32Array;
    if (visual === undefined) return embeds;
    const { tokenId, features } = visual;
    if (features.length % hidden !== 0) throw new Error(`visual features of ${features.length} values are not rows of the hidden size ${hidden}`);
    const slots = inputIds.flatMap((id, t) => (id === tokenId ? [t] : []));
    const rows = features.length / hidden;
    if (slots.length !== rows) {
      throw new Error(`visual features and visual tokens do not match: ${slots.length} tokens of id ${tokenId}, ${rows} feature rows`);
    }
    slots.forEach((t, r) => embeds.set(features.subarray(r * hidden, (r + 1) * hidden), t * hidden));
    return embeds;
  }

  /** One decoder step (a prefill when `past` is null) with the KV cache it leaves behind. */
  async forward(step: ForwardStep): Promise<{ logits: Float32Array; present: KvCache }> {
    const t = this.config.text;
    const { batch, seq, past } = step;
    const pastLength = past?.length ?? 0;
    const total = pastLength + seq;
    const expect = (what: string, got: number, want: number) => {
      if (got !== want) throw new Error(`forward: ${what} has ${got} values, expected ${want}`);
    };
    expect('inputsEmbeds', step.inputsEmbeds.length, batch * seq * t.hiddenSize);
    expect('attentionMask', step.attentionMask.length, batch * total);
    expect('positionIds', step.positionIds.length, batch * seq);
    if (past !== null && past.batch !== batch) throw new Error(`forward: the cache holds ${past.batch} rows, the step ${batch}`);

    const session = await this.session(step.lastLogitsOnly ? 'decoder_last' : 'decoder', () =>
      buildDecoderGraph(this.config, this.weights, { kvCache: true, lastLogitsOnly: step.lastLogitsOnly }));
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', step.inputsEmbeds, [batch, seq, t.hiddenSize]),
      attention_mask: new ort.Tensor('int64', step.attentionMask, [batch, total]),
      position_ids: new ort.Tensor('int64', step.positionIds, [batch, seq]),
    };
    // A first step feeds an empty cache (a 0 past dim), so one graph serves prefill and decoding.
    const empty = new ort.Tensor('float32', new Float32Array(0), [batch, t.numKvHeads, 0, t.headDim]);
    for (let l = 0; l < t.numLayers; l++) {
      feeds[pastName(l, 'key')] = past?.layers[l].key ?? empty;
      feeds[pastName(l, 'value')] = past?.layers[l].value ?? empty;
    }
    const out = await session.run(feeds);
    const layers = Array.from({ length: t.numLayers }, (_, l) => ({ key: out[presentName(l, 'key')], value: out[presentName(l, 'value')] }));
    return { logits: out.logits.data as Float32Array, present: { layers, batch, length: total } };
  }

  /**
   * One forward of an unpadded sequence that returns the softmax attention of the layers asked (per
   * layer [heads, seq, seq]) and the logits of its last position [vocab]: what a judge's verdict
   * needs, in one pass (the head costs one position).
   */
  async attention(inputsEmbeds: Float32Array, seq: number, layers: readonly number[]): Promise<{ probs: Float32Array[]; lastLogits: Float32Array }> {
    if (inputsEmbeds.length !== seq * this.hiddenSize) throw new Error(`attention: inputsEmbeds has ${inputsEmbeds.length} values, expected ${seq * this.hiddenSize}`);
    const session = await this.session(`decoder_attentions_${layers.join('_')}`, () =>
      buildDecoderGraph(this.config, this.weights, { kvCache: false, lastLogitsOnly: true, attentionLayers: layers }));
    const out = await session.run({
      inputs_embeds: new ort.Tensor('float32', inputsEmbeds, [1, seq, this.hiddenSize]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(seq).fill(1n), [1, seq]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: seq }, (_, i) => BigInt(i)), [1, seq]),
    });
    return { probs: layers.map((l) => out[attentionName(l)].data as Float32Array), lastLogits: out.logits.data as Float32Array };
  }

  async release(): Promise<void> {
    const pending = [...this.sessions.values()];
    this.sessions.clear();
    const settled = await Promise.allSettled(pending);
    await Promise.all([this.embedding.release(), ...settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.release()] : []))]);
  }

  /** The session of `name`, built from `graph()` on first use; concurrent first uses share one build. */
  private session(name: string, graph: () => Graph): Promise<Session> {
    let pending = this.sessions.get(name);
    if (pending === undefined) {
      pending = Promise.resolve().then(() => Session.create(serialize(graph()), { ...this.options, graphName: name }));
      // A failed build is not cached, so a later call reports its own error rather than a stale one.
      pending.catch(() => this.sessions.delete(name));
      this.sessions.set(name, pending);
    }
    return pending;
  }
}
