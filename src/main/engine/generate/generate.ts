// Autoregressive generation over LanguageModel: rows (request x sample) in batches, LEFT-padded with
// an attention mask, as transformers' generation/utils.py batches them; a prefill of each distinct
// prompt once, alone (its positions 0..n-1 are what left padding gives its tokens), its cache
// left-padded and copied to the prompt's samples; then one KV-cached token a step with last-position
// logits only. Finished rows leave the batch (their cache rows are dropped), so they neither cost
// compute nor draw samples.
//
// What a Generation holds: `tokenIds` never includes a stop token id (finishReason 'eos'); when a
// stop string appears in the decoded text, generation stops after the token that completes it and
// keeps every token up to and including that one (finishReason 'stop', as transformers'
// StopStringCriteria, which leaves the string in the output); otherwise maxNewTokens tokens
// ('length'). `onToken` is called exactly for the tokens that end up in `tokenIds`, in order.
//
// Each (request, sample) draws from its own Rng seeded from (seed, request, sample), or from its own
// seed (rowSeed), so the tokens do not depend on batchSize or on which rows share a batch.
import { concatTyped } from '../../../shared/arrays';
import { ApiError } from '../../../shared/errors';
import { familyOf } from '../model/families';
import { copyCacheRow, emptyCache, keepCacheRows, releaseDeviceCache, type KvCache, type LanguageModel } from '../model/language-model';
import { Rng, sampleToken, type SamplingOptions } from './sampling';

export interface GenerateRequest {
  inputIds: number[];
  visual?: { tokenId: number; features: Float32Array };
}

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 or absent: greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Default 0: sampling is reproducible unless the caller varies it. */
  seed?: number;
  /** A row's own seed, in place of `seed`: row (request r, sample k) then draws exactly what
   *  generate([requests[r]], { seed: rowSeed(r, k) }) draws for its one sample, so a caller with a seed
   *  per sample gets the prompt's prefill shared and its samples decoded together. */
  rowSeed?: (request: number, sample: number) => number;
  /** Per request, default 1. */
  samples?: number;
  stopTokenIds: readonly number[];
  stopStrings?: readonly string[];
  /** Needed for stopStrings. */
  decode?: (ids: number[]) => string;
  /** Rows (request x sample) decoded together; default batchRowsFor the longest prompt. Their KV caches grow with it; prefill takes one prompt at a time. */
  batchSize?: number;
  onToken?: (e: { request: number; sample: number; tokenId: number }) => void;
  signal?: AbortSignal;
}

export interface Generation {
  request: number;
  sample: number;
  tokenIds: number[];
  finishReason: 'eos' | 'stop' | 'length';
}

/** murmur3's finaliser: spreads nearby integers (request 0, 1, 2, ...) over the whole seed space. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export const rowRng = (seed: number, request: number, sample: number): Rng => new Rng(fmix32(fmix32(fmix32(seed >>> 0) ^ request) ^ sample));

function seededRow(options: GenerateOptions, request: number, sample: number): Rng {
  if (options.rowSeed === undefined) return rowRng(options.seed ?? 0, request, sample);
  const seed = options.rowSeed(request, sample);
  if (!Number.isInteger(seed)) throw new Error(`generate: rowSeed gave ${seed} for request ${request}, sample ${sample}; seeds are integers`);
  return rowRng(seed, 0, 0);
}

interface Row {
  request: number;
  sample: number;
  rng: Rng;
  tokens: number[];
  /** RoPE position of the next token fed. */
  position: number;
  finish: Generation['finishReason'] | null;
}

/** The most rows decoded together: a decode step of several rows costs little more than one row's
 *  (it is bound by reading the weights); callers hand generate this many rows at a time. */
export const maxBatchRows = 8;
/** What the rows' KV caches may take (kept in place, so one copy, beside one prompt's during the
 *  prefills); on a large model with long video prompts it allows fewer rows. */
const kvCacheBudgetBytes = 256 * 2 ** 20;

/** Rows per batch for prompts up to `tokens` long (answer included): up to maxBatchRows, as many as
 *  keep their float32 KV caches within the budget, at least one. */
export function batchRowsFor(lm: LanguageModel, tokens: number): number {
  const { layers, kvHeads, headDim } = lm.cacheShape;
  const perRow = layers * 2 * kvHeads * headDim * tokens * 4;
  return Math.max(1, Math.min(maxBatchRows, Math.floor(kvCacheBudgetBytes / perRow)));
}

const positiveInt = (name: string, v: number) => {
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`generate: ${name} must be a whole number ≥ 1, got ${v}`);
};

export async function generate(lm: LanguageModel, requests: GenerateRequest[], options: GenerateOptions): Promise<Generation[]> {
  positiveInt('maxNewTokens', options.maxNewTokens);
  positiveInt('samples', options.samples ?? 1);
  if (options.batchSize !== undefined) positiveInt('batchSize', options.batchSize);
  if (!Number.isInteger(options.seed ?? 0)) throw new Error(`generate: seed must be an integer, got ${options.seed}`);
  if ((options.stopStrings?.length ?? 0) > 0 && options.decode === undefined) throw new Error('generate: stopStrings need a decode function');
  const empty = requests.findIndex((r) => r.inputIds.length === 0);
  if (empty >= 0) throw new Error(`generate: request ${empty} has no input tokens`);

  const all: { request: number; sample: number }[] = requests.flatMap((_, request) =>
    Array.from({ length: options.samples ?? 1 }, (_, sample) => ({ request, sample })));
  const batchSize = options.batchSize ?? batchRowsFor(lm, Math.max(...requests.map((r) => r.inputIds.length)) + options.maxNewTokens);
  const out: Generation[] = [];
  for (let start = 0; start < all.length; start += batchSize) {
    out.push(...(await generateBatch(lm, requests, all.slice(start, start + batchSize), options)));
  }
  return out;
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ApiError('cancelled', 'generation cancelled');
}

async function generateBatch(
  lm: LanguageModel, requests: GenerateRequest[], slots: { request: number; sample: number }[], options: GenerateOptions,
): Promise<Generation[]> {
  checkCancelled(options.signal);
  const sampling: SamplingOptions = { temperature: options.temperature ?? 0, topK: options.topK ?? 0, topP: options.topP ?? 1 };
  const rows: Row[] = slots.map(({ request, sample }) => ({
    request, sample, rng: seededRow(options, request, sample), tokens: [], position: requests[request].inputIds.length, finish: null,
  }));

  // Prefill each distinct prompt once, alone (so a batch's prefill needs no more memory than its
  // longest prompt's), its cache copied at once into the batch's cache, left-padded to the longest,
  // for each of its rows; the batch's cache has room for every token the rows may add, so the
  // decode steps write into it where it lies.
  const prompts = [...new Set(rows.map((r) => r.request))];
  const longest = Math.max(...prompts.map((p) => requests[p].inputIds.length));
  const promptRow = rows.map((r) => prompts.indexOf(r.request));
  let cache: KvCache = emptyCache(lm.cacheShape, rows.length, longest + options.maxNewTokens, longest);
  const promptLogits: Float32Array[] = [];
  for (const [i, p] of prompts.entries()) {
    checkCancelled(options.signal);
    const { inputIds, visual } = requests[p];
    const seq = inputIds.length;
    const { present, logits } = await lm.forward({
      inputsEmbeds: lm.embed(inputIds, visual), batch: 1, seq, attentionMask: new BigInt64Array(seq).fill(1n),
      positionIds: familyOf(lm.config).positionIds([seq], seq, 'left'), past: null, lastLogitsOnly: true,
    });
    promptRow.forEach((of, row) => {
      if (of === i) copyCacheRow(cache, row, present, 0, longest - seq);
    });
    promptLogits.push(logits);
  }
  const mask = new BigInt64Array(prompts.length * longest);
  prompts.forEach((p, i) => mask.fill(1n, (i + 1) * longest - requests[p].inputIds.length, (i + 1) * longest));
  let rowMask = promptRow.map((i) => mask.subarray(i * longest, (i + 1) * longest));
  let active = rows;
  let logitsOf = (k: number) => promptLogits[promptRow[k]];
  const vocab = promptLogits[0].length;

  // A row also ends at the context's end, max_position_embeddings, with unscaled RoPE (prompt.ts
  // refuses a prompt past it; scaled RoPE is meant to run beyond it).
  const { maxPositionEmbeddings, rope } = lm.config.text;
  const contextEnd = rope.scaling.type === 'default' ? maxPositionEmbeddings : Infinity;
  // Decode steps leave the cache on the device where the decoder's provider can keep it there.
  try {
    for (;;) {
      active.forEach((row, k) => {
        advance(row, sampleToken(logitsOf(k), sampling, row.rng), options);
        if (row.finish === null && requests[row.request].inputIds.length + row.tokens.length >= contextEnd) row.finish = 'length';
      });
      const keep = active.flatMap((row, k) => (row.finish === null ? [k] : []));
      if (keep.length === 0) break;
      checkCancelled(options.signal);
      if (keep.length < active.length) {
        keepCacheRows(cache, keep);
        rowMask = keep.map((k) => rowMask[k]);
        active = keep.map((k) => active[k]);
      }
      rowMask = rowMask.map((m) => {
        const grown = new BigInt64Array(m.length + 1);
        grown.set(m);
        grown[m.length] = 1n;
        return grown;
      });
      const step = await lm.forward({
        inputsEmbeds: lm.embed(active.map((r) => r.tokens[r.tokens.length - 1])),
        batch: active.length,
        seq: 1,
        attentionMask: concatTyped(rowMask, (n) => new BigInt64Array(n)),
        positionIds: BigInt64Array.from(active, (r) => BigInt(r.position++)),
        past: cache,
        lastLogitsOnly: true,
        keepCacheOnDevice: true,
      });
      cache = step.present;
      logitsOf = (k) => step.logits.subarray(k * vocab, (k + 1) * vocab);
    }
  } finally {
    releaseDeviceCache(cache);
  }
  return rows.map(({ request, sample, tokens, finish }) => ({ request, sample, tokenIds: tokens, finishReason: finish! }));
}

/** Applies one sampled token to a row and decides whether the row is finished. */
function advance(row: Row, token: number, options: GenerateOptions): void {
  if (options.stopTokenIds.includes(token)) {
    row.finish = 'eos';
    return;
  }
  row.tokens.push(token);
  options.onToken?.({ request: row.request, sample: row.sample, tokenId: token });
  const stops = options.stopStrings ?? [];
  if (stops.length > 0) {
    const text = options.decode!(row.tokens);
    if (stops.some((s) => text.includes(s))) {
      row.finish = 'stop';
      return;
    }
  }
  if (row.tokens.length >= options.maxNewTokens) row.finish = 'length';
}

