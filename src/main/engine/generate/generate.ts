// Autoregressive generation over LanguageModel: rows (request x sample) in batches, LEFT-padded with
// an attention mask and the family's left-padded position ids (1-D: cumsum(mask) - 1, padding set
// to 1, position-ids.ts), as transformers'
// generation/utils.py prepares them; a prefill of each distinct prompt once, its cache copied to the
// prompt's samples; then one KV-cached token a step with last-position logits only. Finished rows
// leave the batch (their cache rows are dropped), so they neither cost compute nor draw samples.
//
// What a Generation holds: `tokenIds` never includes a stop token id (finishReason 'eos'); when a
// stop string appears in the decoded text, generation stops after the token that completes it and
// keeps every token up to and including that one (finishReason 'stop', as transformers'
// StopStringCriteria, which leaves the string in the output); otherwise maxNewTokens tokens
// ('length'). `onToken` is called exactly for the tokens that end up in `tokenIds`, in order.
//
// Each (request, sample) draws from its own Rng seeded from (seed, request, sample), so the tokens
// do not depend on batchSize or on which rows share a batch.
import { concatTyped } from '../../../shared/arrays';
import { ApiError } from '../../../shared/errors';
import { familyOf } from '../model/families';
import { selectCacheRows, type KvCache, type LanguageModel } from '../model/language-model';
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
  /** Per request, default 1. */
  samples?: number;
  stopTokenIds: readonly number[];
  stopStrings?: readonly string[];
  /** Needed for stopStrings. */
  decode?: (ids: number[]) => string;
  /** Rows (request x sample) decoded together; default 4. Memory grows with it (and with prompt length). */
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

interface Row {
  request: number;
  sample: number;
  rng: Rng;
  tokens: number[];
  /** RoPE position of the next token fed. */
  position: number;
  finish: Generation['finishReason'] | null;
}

const positiveInt = (name: string, v: number) => {
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`generate: ${name} must be a whole number ≥ 1, got ${v}`);
};

export async function generate(lm: LanguageModel, requests: GenerateRequest[], options: GenerateOptions): Promise<Generation[]> {
  positiveInt('maxNewTokens', options.maxNewTokens);
  positiveInt('samples', options.samples ?? 1);
  positiveInt('batchSize', options.batchSize ?? 4);
  if (!Number.isInteger(options.seed ?? 0)) throw new Error(`generate: seed must be an integer, got ${options.seed}`);
  if ((options.stopStrings?.length ?? 0) > 0 && options.decode === undefined) throw new Error('generate: stopStrings need a decode function');
  const empty = requests.findIndex((r) => r.inputIds.length === 0);
  if (empty >= 0) throw new Error(`generate: request ${empty} has no input tokens`);

  const all: { request: number; sample: number }[] = requests.flatMap((_, request) =>
    Array.from({ length: options.samples ?? 1 }, (_, sample) => ({ request, sample })));
  const batchSize = options.batchSize ?? 4;
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
    request, sample, rng: rowRng(options.seed ?? 0, request, sample), tokens: [], position: requests[request].inputIds.length, finish: null,
  }));

  // Prefill each distinct prompt once, left-padded to the longest.
  const prompts = [...new Set(rows.map((r) => r.request))];
  const hidden = lm.hiddenSize;
  const longest = Math.max(...prompts.map((p) => requests[p].inputIds.length));
  const embeds = new Float32Array(prompts.length * longest * hidden);
  const mask = new BigInt64Array(prompts.length * longest);
  const positions = familyOf(lm.config).positionIds(prompts.map((p) => requests[p].inputIds.length), longest, 'left');
  for (const [i, p] of prompts.entries()) {
    const { inputIds, visual } = requests[p];
    const pad = longest - inputIds.length;
    embeds.set(await lm.embed(inputIds, visual), (i * longest + pad) * hidden);
    mask.fill(1n, i * longest + pad, (i + 1) * longest);
  }
  checkCancelled(options.signal);
  const prefill = await lm.forward({
    inputsEmbeds: embeds, batch: prompts.length, seq: longest, attentionMask: mask, positionIds: positions, past: null, lastLogitsOnly: true,
  });
  const vocab = prefill.logits.length / prompts.length;
  const promptRow = rows.map((r) => prompts.indexOf(r.request));
  let cache: KvCache = selectCacheRows(prefill.present, promptRow);
  let rowMask = promptRow.map((i) => mask.subarray(i * longest, (i + 1) * longest));
  let active = rows;
  let logitsOf = (k: number) => prefill.logits.subarray(promptRow[k] * vocab, (promptRow[k] + 1) * vocab);

  // A row also ends at the context's end, max_position_embeddings, with unscaled RoPE (prompt.ts
  // refuses a prompt past it; scaled RoPE is meant to run beyond it).
  const { maxPositionEmbeddings, rope } = lm.config.text;
  const contextEnd = rope.scaling.type === 'default' ? maxPositionEmbeddings : Infinity;
  for (;;) {
    active.forEach((row, k) => {
      advance(row, sampleToken(logitsOf(k), sampling, row.rng), options);
      if (row.finish === null && requests[row.request].inputIds.length + row.tokens.length >= contextEnd) row.finish = 'length';
    });
    const keep = active.flatMap((row, k) => (row.finish === null ? [k] : []));
    if (keep.length === 0) break;
    checkCancelled(options.signal);
    if (keep.length < active.length) {
      cache = selectCacheRows(cache, keep);
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
      inputsEmbeds: await lm.embed(active.map((r) => r.tokens[r.tokens.length - 1])),
      batch: active.length,
      seq: 1,
      attentionMask: concatTyped(rowMask, (n) => new BigInt64Array(n)),
      positionIds: BigInt64Array.from(active, (r) => BigInt(r.position++)),
      past: cache,
      lastLogitsOnly: true,
    });
    cache = step.present;
    logitsOf = (k) => step.logits.subarray(k * vocab, (k + 1) * vocab);
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

