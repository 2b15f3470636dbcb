// The text side of a loaded model: token embeddings (looked up on the host, rows of the checkpoint's
// table, with a prompt's visual feature rows spliced in, as modeling_llava_onevision.py /
// modeling_idefics3.py masked_scatter them over the image or video tokens) and the decoder session
// with its KV cache. One decoder session serves decoding, full logits and attention maps (the rows
// it computes are inputs: decoder.ts rowsAtRunTime), and a long step runs in chunks over the growing
// cache. The decoder reads the model's one copy of the weights (ModelWeights.shared,
// graph/session.ts). Where memory goes and why: docs/engine.md, memory. On WebGPU, decode steps keep
// the cache on the device as well (docs/engine.md, accelerators).
import * as ort from 'onnxruntime-node';
import { ApiError } from '../../../shared/errors';
import { Session, type SessionOptions } from '../graph/session';
import type { ModelConfig } from './config';
import { attentionRows, buildDecoderGraph, CACHE_POSITION, decoderKeepsFloat32, embeddingName, fullCacheName, LOGITS_POSITIONS, pastName, presentName, QUERY_POSITIONS, queryStatesName, withFullCache } from './decoder';
import type { ModelWeights } from './weights';

/**
 * Rotated keys and values of every layer, kept in place: per layer two float32 arrays [batch,
 * kvHeads, capacity, headDim] whose slots [0, length) hold the sequence so far (left padding
 * included). A step reads them where they lie and its own keys and values are written into the next
 * slots; the arrays are replaced (one copy) only when a step finds no room.
 */
export interface KvCache {
  layers: { key: Float32Array; value: Float32Array }[];
  batch: number;
  kvHeads: number;
  headDim: number;
  capacity: number;
  length: number;
  /** The same cache on the device, where the decoder's provider keeps it there (ForwardStep
   *  keepCacheOnDevice): the next step reads it instead of the arrays. Whatever changes the arrays
   *  elsewhere releases it (releaseDeviceCache). */
  device?: { key: ort.Tensor; value: ort.Tensor }[];
}

/** Frees the cache's device copy, if it has one; its arrays stay as they are. */
export function releaseDeviceCache(cache: KvCache): void {
  disposeLayers(cache.device ?? []);
  delete cache.device;
}

function disposeLayers(layers: readonly { key: ort.Tensor; value: ort.Tensor }[]): void {
  for (const { key, value } of layers) {
    key.dispose();
    value.dispose();
  }
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
  /** Taken by the step: it comes back as `present`, with this step's slots written in (grown if it had no room). */
  past: KvCache | null;
  /** Logits of the last position only: [batch, 1, vocab] instead of [batch, seq, vocab]. */
  lastLogitsOnly: boolean;
  /** Leave `present` a device copy where the provider can keep one (decode steps, whose next step
   *  reads it there); its owner releases it (releaseDeviceCache). */
  keepCacheOnDevice?: boolean;
}

/** What a model's caches are made of, whatever their rows and slots. */
export interface CacheShape {
  layers: number;
  kvHeads: number;
  headDim: number;
}

const shapeOf = (cache: KvCache): CacheShape => ({ layers: cache.layers.length, kvHeads: cache.kvHeads, headDim: cache.headDim });

/** A cache of `batch` rows with room for `capacity` slots, `length` in use (zeros). */
export function emptyCache(shape: CacheShape, batch: number, capacity: number, length = 0): KvCache {
  const size = batch * shape.kvHeads * capacity * shape.headDim;
  return {
    layers: Array.from({ length: shape.layers }, () => ({ key: new Float32Array(size), value: new Float32Array(size) })),
    batch, kvHeads: shape.kvHeads, headDim: shape.headDim, capacity, length,
  };
}

/** Copies the used slots of row `from` of `source` into row `row` of `target`, from slot `at`. */
export function copyCacheRow(target: KvCache, row: number, source: KvCache, from: number, at: number): void {
  if (at + source.length > target.capacity) throw new Error(`copyCacheRow: ${source.length} slots from slot ${at} do not fit a capacity of ${target.capacity}`);
  releaseDeviceCache(target);
  const { kvHeads, headDim: d } = target;
  target.layers.forEach((layer, l) => {
    for (const kind of ['key', 'value'] as const) {
      const src = source.layers[l][kind];
      for (let h = 0; h < kvHeads; h++) {
        const begin = (from * kvHeads + h) * source.capacity * d;
        layer[kind].set(src.subarray(begin, begin + source.length * d), ((row * kvHeads + h) * target.capacity + at) * d);
      }
    }
  });
}

/**
 * Keeps only the cache rows `rows` (increasing), in place: each moves down to its new index within
 * the same arrays, which the cache then views shorter; e.g. to drop finished sequences without a copy
 * of the cache.
 */
export function keepCacheRows(cache: KvCache, rows: readonly number[]): void {
  if (rows.some((r, i) => !(Number.isInteger(r) && r >= i && r < cache.batch) || (i > 0 && r <= rows[i - 1]))) throw new Error(`keepCacheRows: rows must be increasing indices below ${cache.batch}, got ${rows.join(', ')}`);
  releaseDeviceCache(cache);
  const rowSize = cache.kvHeads * cache.capacity * cache.headDim;
  for (const layer of cache.layers) {
    for (const kind of ['key', 'value'] as const) {
      rows.forEach((r, i) => {
        if (r !== i) layer[kind].copyWithin(i * rowSize, r * rowSize, (r + 1) * rowSize);
      });
      layer[kind] = layer[kind].subarray(0, rows.length * rowSize);
    }
  }
  cache.batch = rows.length;
}

/** One-row caches of prompts of different lengths as one batch with room for `capacity` slots, each
 *  row's slots LEFT-padded with zeros to `length` (the attention mask hides them), in the order given
 *  (a cache may repeat). */
export function stackCachesLeftPadded(caches: readonly KvCache[], length: number, capacity = length): KvCache {
  const short = caches.find((c) => c.batch !== 1 || c.length > length);
  if (short !== undefined) throw new Error(`stackCachesLeftPadded: each cache must be one row of at most ${length} slots, got ${short.batch} rows of ${short.length}`);
  if (capacity < length) throw new Error(`stackCachesLeftPadded: a capacity of ${capacity} slots cannot hold ${length}`);
  const out = emptyCache(shapeOf(caches[0]), caches.length, capacity, length);
  caches.forEach((cache, row) => copyCacheRow(out, row, cache, 0, length - cache.length));
  return out;
}

/** The cache with room for `capacity` slots (a copy). */
function grown(cache: KvCache, capacity: number): KvCache {
  const out = emptyCache(shapeOf(cache), cache.batch, capacity, cache.length);
  for (let row = 0; row < cache.batch; row++) copyCacheRow(out, row, cache, row, 0);
  return out;
}

/** Positions one decoder run takes at most by default: a longer step (a prompt's prefill) runs in
 *  chunks over the growing cache, so its attention scores are [heads, chunk, total], not
 *  [heads, seq, seq], and its other activations a chunk's. */
export const PREFILL_CHUNK = 256;

export interface LanguageModelOptions extends Omit<SessionOptions, 'graphName'> {
  /** Positions per decoder run (default PREFILL_CHUNK). */
  prefillChunk?: number;
}

export class LanguageModel {
  private decoder: Promise<Session> | null = null;
  private readonly sessionOptions: Omit<SessionOptions, 'graphName'>;
  private readonly chunk: number;

  constructor(
    readonly config: ModelConfig,
    private readonly weights: ModelWeights,
    options: LanguageModelOptions = {},
  ) {
    const { prefillChunk = PREFILL_CHUNK, ...sessionOptions } = options;
    if (!(Number.isInteger(prefillChunk) && prefillChunk > 0)) throw new Error(`prefillChunk must be a whole number of positions above 0, got ${prefillChunk}`);
    this.chunk = prefillChunk;
    this.sessionOptions = sessionOptions;
  }

  get hiddenSize(): number {
    return this.config.text.hiddenSize;
  }

  get cacheShape(): CacheShape {
    const t = this.config.text;
    return { layers: t.numLayers, kvHeads: t.numKvHeads, headDim: t.headDim };
  }

  /**
   * Token embeddings [ids.length, hidden]; with `visual`, the rows of tokens equal to `tokenId` are
   * replaced, in order, by the rows of `features` [n, hidden].
   */
  embed(inputIds: readonly number[], visual?: { tokenId: number; features: Float32Array }): Float32Array {
    const { vocabSize } = this.config.text;
    const hidden = this.hiddenSize;
    const at = inputIds.findIndex((id) => !(Number.isInteger(id) && id >= 0 && id < vocabSize));
    if (at >= 0) {
      const { file } = this.config;
      throw new ApiError('bad_input', `token id ${inputIds[at]} (position ${at} of the ${inputIds.length} input ids) is outside the vocabulary of ${vocabSize}, ${file} text_config.vocab_size: the ids come from another tokenizer than the folder's tokenizer.json`, { file, key: 'text_config.vocab_size' });
    }
    const embeds = this.weights.rows(embeddingName(this.config), inputIds);
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
    const total = (past?.length ?? 0) + seq;
    const expect = (what: string, got: number, want: number) => {
      if (got !== want) throw new Error(`forward: ${what} has ${got} values, expected ${want}`);
    };
    expect('inputsEmbeds', step.inputsEmbeds.length, batch * seq * t.hiddenSize);
    expect('attentionMask', step.attentionMask.length, batch * total);
    expect('positionIds', step.positionIds.length, batch * seq);
    if (past !== null && past.batch !== batch) throw new Error(`forward: the cache holds ${past.batch} rows, the step ${batch}`);

    const rows = step.lastLogitsOnly ? [seq - 1] : Array.from({ length: seq }, (_, i) => i);
    const { logits, present } = await this.run(step, rows, [], []);
    return { logits, present };
  }

  /**
   * One forward of an unpadded sequence that returns the softmax attention of the layers asked (per
   * layer [heads, queries, total]: the rows of `queries`, by default every new position) and the
   * logits of its last position [vocab]: what a judge's verdict needs, in one pass. With `past` (the
   * cache of a prefix, from a forward that started empty) the sequence goes on from it: the
   * embeddings are the new positions', and `queries` are positions of the whole sequence at or after
   * the prefix. The prefix's cache is read, never written. The rows are computed from the layers'
   * query states and keys (decoder.ts attentionRows), so no layer's whole [seq, seq] map is ever held.
   */
  async attention(inputsEmbeds: Float32Array, seq: number, layers: readonly number[], queries?: readonly number[], past: KvCache | null = null): Promise<{ probs: Float32Array[]; lastLogits: Float32Array }> {
    if (inputsEmbeds.length !== seq * this.hiddenSize) throw new Error(`attention: inputsEmbeds has ${inputsEmbeds.length} values, expected ${seq * this.hiddenSize}`);
    const t = this.config.text;
    const bad = layers.find((l, i) => !(Number.isInteger(l) && l >= 0 && l < t.numLayers) || layers.indexOf(l) !== i);
    if (bad !== undefined) throw new Error(`attention layer ${bad} is out of range or repeated: the decoder has layers 0..${t.numLayers - 1}`);
    if (past !== null && (past.batch !== 1 || past.capacity !== past.length)) throw new Error(`attention: a prefix's cache must be one row holding exactly its positions (a forward from an empty cache), not ${past.batch} rows of ${past.length} used in ${past.capacity}`);
    const from = past?.length ?? 0;
    const total = from + seq;
    const rows = queries ?? Array.from({ length: seq }, (_, i) => from + i);
    const badQuery = rows.find((q) => !(Number.isInteger(q) && q >= from && q < total));
    if (badQuery !== undefined) throw new Error(`attention: query position ${badQuery} is outside the ${seq} positions${from > 0 ? ` after the prefix's ${from} (${from}..${total - 1})` : ''}`);
    const step = {
      inputsEmbeds, batch: 1, seq, past,
      attentionMask: new BigInt64Array(total).fill(1n),
      positionIds: BigInt64Array.from({ length: seq }, (_, i) => BigInt(from + i)),
    };
    const out = await this.run(step, [seq - 1], rows.map((q) => q - from), layers);
    const dims = { heads: t.numHeads, kvHeads: t.numKvHeads, headDim: t.headDim, total };
    // A cache grown from one that held exactly its positions holds exactly these: keys [kvHeads, total, headDim].
    if (out.present.capacity !== total) throw new Error(`attention: the cache holds ${out.present.capacity} slots for ${total} positions`);
    const probs = layers.map((l, i) => attentionRows(out.queryStates[i], out.present.layers[l].key, rows, dims));
    return { probs, lastLogits: out.logits };
  }

  async release(): Promise<void> {
    await this.releaseDecoder();
  }

  /** Releases the decoder session and the memory its runs keep (ORT's arena); the next forward builds it again. */
  async releaseDecoder(): Promise<void> {
    const pending = this.decoder;
    this.decoder = null;
    const settled = await Promise.allSettled(pending === null ? [] : [pending]);
    await Promise.all(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.release()] : [])));
  }

  /**
   * A step through the decoder session in runs of at most `chunk` positions, each over the cache the
   * one before left: the logits at `logitsRows` ([batch, rows, vocab], in the order asked), the
   * cache, and the query states at `queries` of each of `queryLayers` ([batch, heads, queries,
   * headDim]). The same numbers as one run: each position attends to the same keys either way.
   */
  private async run(
    step: Pick<ForwardStep, 'inputsEmbeds' | 'batch' | 'seq' | 'attentionMask' | 'positionIds' | 'past' | 'keepCacheOnDevice'>,
    logitsRows: readonly number[], queries: readonly number[], queryLayers: readonly number[],
  ): Promise<{ logits: Float32Array; present: KvCache; queryStates: Float32Array[] }> {
    const t = this.config.text;
    const { batch, seq } = step;
    const pastLength = step.past?.length ?? 0;
    if (seq < 1) throw new Error('a decoder step needs at least one position');
    const h = t.hiddenSize;
    const index = (xs: readonly number[]) => new ort.Tensor('int64', BigInt64Array.from(xs, (x) => BigInt(x)), [xs.length]);
    const fetches = ['logits', ...this.cacheNames(presentName), ...queryLayers.map((l) => queryStatesName(l))];
    const session = await this.session();
    const onDevice = session.deviceOutputs.size > 0;
    // Where each asked row lands: [chunk, its place among that chunk's rows].
    const logitsAt: [number, number][] = [];
    const queriesAt: [number, number][] = [];
    const logitsParts: ort.Tensor[] = [];
    const queryParts: ort.Tensor[][] = [];
    let cache = step.past ?? emptyCache(this.cacheShape, batch, 1);
    for (let from = 0, c = 0; from < seq; from += this.chunk, c++) {
      const to = Math.min(seq, from + this.chunk);
      const n = to - from;
      const inChunk = (xs: readonly number[], at: [number, number][]) => {
        const local: number[] = [];
        xs.forEach((x, i) => {
          if (x < from || x >= to) return;
          at[i] = [c, local.length];
          local.push(x - from);
        });
        return local;
      };
      const used = cache.length;
      const feeds: Record<string, ort.Tensor> = {
        inputs_embeds: new ort.Tensor('float32', columns(step.inputsEmbeds, batch, h, from, to), [batch, n, h]),
        attention_mask: new ort.Tensor('int64', slotMask(step.attentionMask, batch, pastLength + seq, used, cache.capacity, n), [batch, cache.capacity + n]),
        position_ids: new ort.Tensor('int64', columns(step.positionIds, batch, 1, from, to), [batch, n]),
        // The head takes at least one row (a chunk that owes none computes its last, unused).
        [LOGITS_POSITIONS]: index(nonEmpty(inChunk(logitsRows, logitsAt), n - 1)),
        [QUERY_POSITIONS]: index(inChunk(queries, queriesAt)),
      };
      const dims = [batch, t.numKvHeads, cache.capacity, t.headDim];
      cache.layers.forEach(({ key, value }, l) => {
        const kept = cache.device?.[l];
        feeds[pastName(l, 'key')] = kept?.key ?? new ort.Tensor('float32', key, dims);
        feeds[pastName(l, 'value')] = kept?.value ?? new ort.Tensor('float32', value, dims);
      });
      if (onDevice) feeds[CACHE_POSITION] = index([used]);
      const out = await session.run(feeds, fetches);
      // The copy just read is superseded by the run's, which stays only where it matches the arrays below.
      releaseDeviceCache(cache);
      const onDeviceNow = onDevice ? cache.layers.map((_, l) => ({ key: out[fullCacheName(l, 'key')], value: out[fullCacheName(l, 'value')] })) : undefined;
      logitsParts.push(out.logits);
      queryParts.push(queryLayers.map((l) => out[queryStatesName(l)]));
      // Doubling, so a long prefill copies its cache O(1) times a slot, never past the step's end (a fresh
      // prefill's cache then holds exactly its positions, as attention() reads it).
      if (used + n > cache.capacity) cache = grown(cache, Math.max(used + n, Math.min(pastLength + seq, 2 * cache.capacity)));
      const { capacity } = cache;
      cache.layers.forEach((layer, l) => {
        for (const kind of ['key', 'value'] as const) {
          const fresh = out[presentName(l, kind)].data as Float32Array;
          for (let r = 0; r < batch * t.numKvHeads; r++) layer[kind].set(fresh.subarray(r * n * t.headDim, (r + 1) * n * t.headDim), (r * capacity + used) * t.headDim);
        }
      });
      cache.length = used + n;
      if (onDeviceNow !== undefined) {
        if (step.keepCacheOnDevice === true && to === seq && onDeviceNow[0].key.dims[2] === cache.capacity) cache.device = onDeviceNow;
        else disposeLayers(onDeviceNow);
      }
    }
    return {
      logits: assembleAlong(logitsParts, 1, logitsAt),
      present: cache,
      queryStates: queryLayers.map((_, i) => assembleAlong(queryParts.map((parts) => parts[i]), 2, queriesAt)),
    };
  }

  /** Every layer's key and value names of one kind of cache tensor. */
  private cacheNames(name: (layer: number, kind: 'key' | 'value') => string): string[] {
    return Array.from({ length: this.config.text.numLayers }, (_, l) => [name(l, 'key'), name(l, 'value')]).flat();
  }

  /** The decoder session, built on first use; concurrent first uses share one build, and a failed build is not kept. */
  private session(): Promise<Session> {
    if (this.decoder === null) {
      const pending = Promise.resolve().then(() => Session.create(
        buildDecoderGraph(this.config, this.weights, { kvCache: true, rowsAtRunTime: true }),
        {
          ...this.sessionOptions, graphName: 'decoder', halfPrecision: decoderKeepsFloat32,
          deviceOutputs: { names: this.cacheNames(fullCacheName), add: (graph) => withFullCache(graph, this.config) },
        },
      ));
      pending.catch(() => {
        if (this.decoder === pending) this.decoder = null;
      });
      this.decoder = pending;
    }
    return this.decoder;
  }
}

const nonEmpty = (xs: number[], otherwise: number): number[] => (xs.length > 0 ? xs : [otherwise]);

/**
 * The graph's attention_mask [batch, capacity + n] for a run over a cache whose first `used` slots
 * are filled: those slots' entries of the step's mask (`total` a row), 0 for the free slots, then the
 * entries of the run's n positions.
 */
function slotMask(mask: BigInt64Array, batch: number, total: number, used: number, capacity: number, n: number): BigInt64Array {
  const out = new BigInt64Array(batch * (capacity + n));
  for (let r = 0; r < batch; r++) {
    out.set(mask.subarray(r * total, r * total + used), r * (capacity + n));
    out.set(mask.subarray(r * total + used, r * total + used + n), r * (capacity + n) + capacity);
  }
  return out;
}

/** Positions `begin` to `end` of each of `rows` rows of `width` values a position. */
function columns(all: Float32Array, rows: number, width: number, begin: number, end: number): Float32Array;
function columns(all: BigInt64Array, rows: number, width: number, begin: number, end: number): BigInt64Array;
function columns(all: Float32Array | BigInt64Array, rows: number, width: number, begin: number, end: number): Float32Array | BigInt64Array {
  if (rows === 1) return all.subarray(begin * width, end * width);
  const stride = all.length / rows;
  const size = (end - begin) * width;
  const out = all instanceof Float32Array ? new Float32Array(rows * size) : new BigInt64Array(rows * size);
  for (let r = 0; r < rows; r++) (out as Float32Array).set(all.subarray(r * stride + begin * width, r * stride + end * width) as Float32Array, r * size);
  return out;
}

/** Float32 tensors alike but in `axis`, assembled along it: entry i is entry j of part p, for picks[i] = [p, j]. */
function assembleAlong(parts: readonly ort.Tensor[], axis: number, picks: readonly (readonly [number, number])[]): Float32Array {
  const dims = parts[0].dims;
  const outer = dims.slice(0, axis).reduce((a, d) => a * d, 1);
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const out = new Float32Array(outer * picks.length * inner);
  for (let o = 0; o < outer; o++) {
    picks.forEach(([p, j], i) => {
      const part = parts[p];
      const from = (o * part.dims[axis] + j) * inner;
      out.set((part.data as Float32Array).subarray(from, from + inner), (o * picks.length + i) * inner);
    });
  }
  return out;
}
