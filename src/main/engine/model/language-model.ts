// The text side of a loaded model as ONNX Runtime sessions: token embeddings (with a prompt's
// visual feature rows spliced in, as modeling_llava_onevision.py / modeling_idefics3.py
// masked_scatter them over the image or video tokens) and the decoder with its KV cache. One decoder
// session serves decoding, full logits and attention maps (the rows it computes are inputs:
// decoder.ts rowsAtRunTime). Every session, and training's graphs, read the model's one copy of the
// weights (ModelWeights.shared, graph/session.ts). Where memory goes and why: docs/engine.md, memory.
import * as ort from 'onnxruntime-node';
import { ApiError } from '../../../shared/errors';
import { Session, type SessionOptions } from '../graph/session';
import type { ModelConfig } from './config';
import { attentionRows, buildDecoderGraph, buildEmbeddingGraph, LOGITS_POSITIONS, pastName, presentName, QUERY_POSITIONS, queryStatesName } from './decoder';
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

/** One-row caches of prompts of different lengths as one batch, each row's slots LEFT-padded with
 *  zeros to `length` (the attention mask hides them), in the order given (a cache may repeat). */
export function stackCachesLeftPadded(caches: readonly KvCache[], length: number): KvCache {
  const short = caches.find((c) => c.batch !== 1 || c.length > length);
  if (short !== undefined) throw new Error(`stackCachesLeftPadded: each cache must be one row of at most ${length} slots, got ${short.batch} rows of ${short.length}`);
  const stack = (tensors: ort.Tensor[]): ort.Tensor => {
    const [, kvHeads, , headDim] = tensors[0].dims;
    const out = new Float32Array(tensors.length * kvHeads * length * headDim);
    tensors.forEach((t, row) => {
      const own = t.dims[2];
      const src = t.data as Float32Array;
      for (let h = 0; h < kvHeads; h++) {
        const from = h * own * headDim;
        out.set(src.subarray(from, from + own * headDim), ((row * kvHeads + h) * length + length - own) * headDim);
      }
    });
    return new ort.Tensor('float32', out, [tensors.length, kvHeads, length, headDim]);
  };
  const layers = caches[0].layers.map((_, l) => ({ key: stack(caches.map((c) => c.layers[l].key)), value: stack(caches.map((c) => c.layers[l].value)) }));
  return { layers, batch: caches.length, length };
}

export class LanguageModel {
  private decoder: Promise<Session> | null = null;

  private constructor(
    readonly config: ModelConfig,
    private readonly weights: ModelWeights,
    private readonly options: Omit<SessionOptions, 'graphName'>,
    private readonly embedding: Session,
  ) {}

  static async create(config: ModelConfig, weights: ModelWeights, options: Omit<SessionOptions, 'graphName'> = {}): Promise<LanguageModel> {
    const embedding = await Session.create(buildEmbeddingGraph(config, weights), { ...options, graphName: 'embed_tokens' });
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
    const at = inputIds.findIndex((id) => !(Number.isInteger(id) && id >= 0 && id < vocabSize));
    if (at >= 0) {
      const { file } = this.config;
      throw new ApiError('bad_input', `token id ${inputIds[at]} (position ${at} of the ${inputIds.length} input ids) is outside the vocabulary of ${vocabSize}, ${file} text_config.vocab_size: the ids come from another tokenizer than the folder's tokenizer.json`, { file, key: 'text_config.vocab_size' });
    }
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

    const rows = step.lastLogitsOnly ? [seq - 1] : Array.from({ length: seq }, (_, i) => i);
    const presents = Array.from({ length: t.numLayers }, (_, l) => [presentName(l, 'key'), presentName(l, 'value')]).flat();
    const out = await this.run(step, rows, [], ['logits', ...presents]);
    const layers = Array.from({ length: t.numLayers }, (_, l) => ({ key: out[presentName(l, 'key')], value: out[presentName(l, 'value')] }));
    return { logits: out.logits.data as Float32Array, present: { layers, batch, length: total } };
  }

  /**
   * One forward of an unpadded sequence that returns the softmax attention of the layers asked (per
   * layer [heads, queries, seq]: the rows of `queries`, by default every position, so [heads, seq,
   * seq]) and the logits of its last position [vocab]: what a judge's verdict needs, in one pass.
   * The rows are computed from the layers' query states and keys (decoder.ts attentionRows), so no
   * layer's whole [seq, seq] map is ever held.
   */
  async attention(inputsEmbeds: Float32Array, seq: number, layers: readonly number[], queries?: readonly number[]): Promise<{ probs: Float32Array[]; lastLogits: Float32Array }> {
    if (inputsEmbeds.length !== seq * this.hiddenSize) throw new Error(`attention: inputsEmbeds has ${inputsEmbeds.length} values, expected ${seq * this.hiddenSize}`);
    const t = this.config.text;
    const bad = layers.find((l, i) => !(Number.isInteger(l) && l >= 0 && l < t.numLayers) || layers.indexOf(l) !== i);
    if (bad !== undefined) throw new Error(`attention layer ${bad} is out of range or repeated: the decoder has layers 0..${t.numLayers - 1}`);
    const rows = queries ?? Array.from({ length: seq }, (_, i) => i);
    const badQuery = rows.find((q) => !(Number.isInteger(q) && q >= 0 && q < seq));
    if (badQuery !== undefined) throw new Error(`attention: query position ${badQuery} is outside the ${seq} positions`);
    const step = {
      inputsEmbeds, batch: 1, seq, past: null,
      attentionMask: new BigInt64Array(seq).fill(1n),
      positionIds: BigInt64Array.from({ length: seq }, (_, i) => BigInt(i)),
    };
    const out = await this.run(step, [seq - 1], rows, ['logits', ...layers.flatMap((l) => [queryStatesName(l), presentName(l, 'key')])]);
    const dims = { heads: t.numHeads, kvHeads: t.numKvHeads, headDim: t.headDim, total: seq };
    const probs = layers.map((l) => attentionRows(out[queryStatesName(l)].data as Float32Array, out[presentName(l, 'key')].data as Float32Array, rows, dims));
    return { probs, lastLogits: out.logits.data as Float32Array };
  }

  async release(): Promise<void> {
    await this.releaseDecoder();
    await this.embedding.release();
  }

  /** Releases the decoder session and the memory its runs keep (ORT's arena); the next forward builds
   *  it again. The embedding session stays. */
  async releaseDecoder(): Promise<void> {
    const pending = this.decoder;
    this.decoder = null;
    const settled = await Promise.allSettled(pending === null ? [] : [pending]);
    await Promise.all(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.release()] : [])));
  }

  /** One run of the decoder session: logits at `logitsRows`, the query states of `queries` (none: empty), the outputs in `fetches`. */
  private async run(
    step: Pick<ForwardStep, 'inputsEmbeds' | 'batch' | 'seq' | 'attentionMask' | 'positionIds' | 'past'>,
    logitsRows: readonly number[], queries: readonly number[], fetches: readonly string[],
  ): Promise<Record<string, ort.Tensor>> {
    const t = this.config.text;
    const { batch, seq, past } = step;
    const total = (past?.length ?? 0) + seq;
    const index = (xs: readonly number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, (x) => BigInt(x)), [xs.length]);
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', step.inputsEmbeds, [batch, seq, t.hiddenSize]),
      attention_mask: new ort.Tensor('int64', step.attentionMask, [batch, total]),
      position_ids: new ort.Tensor('int64', step.positionIds, [batch, seq]),
      [LOGITS_POSITIONS]: index(logitsRows),
      [QUERY_POSITIONS]: index(queries),
    };
    // A first step feeds an empty cache (a 0 past dim), so one graph serves prefill and decoding.
    const empty = new ort.Tensor('float32', new Float32Array(0), [batch, t.numKvHeads, 0, t.headDim]);
    for (let l = 0; l < t.numLayers; l++) {
      feeds[pastName(l, 'key')] = past?.layers[l].key ?? empty;
      feeds[pastName(l, 'value')] = past?.layers[l].value ?? empty;
    }
    return (await this.session()).run(feeds, fetches);
  }

  /** The decoder session, built on first use; concurrent first uses share one build, and a failed build is not kept. */
  private session(): Promise<Session> {
    if (this.decoder === null) {
      const pending = Promise.resolve().then(() => Session.create(
        buildDecoderGraph(this.config, this.weights, { kvCache: true, rowsAtRunTime: true }),
        { ...this.options, graphName: 'decoder' },
      ));
      pending.catch(() => {
        if (this.decoder === pending) this.decoder = null;
      });
      this.decoder = pending;
    }
    return this.decoder;
  }
}
