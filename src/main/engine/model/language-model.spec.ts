import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Session } from '../graph/session';
import { engineSettings } from '../engine-settings';
import { withEnv } from '../testing/accelerators';
import type { Idefics3Config, LlavaOnevisionConfig } from './families';
import { fixtureArchs, writeFixture } from './fixture';
import { keepCacheRows, LanguageModel, stackCachesLeftPadded, type ForwardStep, type KvCache } from './language-model';
import { naiveEmbed, naiveForward } from '../testing/naive/decoder';
import { openWeights, type ModelWeights } from './weights';

const corpus = ['What colour is the square?', 'Which way does the red circle move?', 'How many shapes are in the video?'];
const ids = [5, 17, 42, 3, 99, 100, 7, 8, 250, 11, 12];

const positions = (from: number, n: number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i));
const ones = (n: number) => new BigInt64Array(n).fill(1n);
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup) await c();
});

async function tiny(arch: (typeof fixtureArchs)[number]): Promise<{ lm: LanguageModel; weights: ModelWeights }> {
  const dir = mkdtempSync(join(tmpdir(), 'isr-lm-'));
  const { config } = writeFixture(dir, { arch, size: 'tiny', seed: 12, corpus });
  const weights = openWeights(dir, config);
  const lm = new LanguageModel(config, weights);
  cleanup.push(() => lm.release(), () => weights.close());
  return { lm, weights };
}

/** A prefill of two prompts as one batch, the shorter left-padded to the longer's `width`, every position's logits asked. */
function leftPaddedPair(lm: LanguageModel, short: number[], long: number[]): { step: ForwardStep; width: number; pad: number; mask: BigInt64Array } {
  const hidden = lm.hiddenSize;
  const width = long.length;
  const pad = width - short.length;
  const embeds = new Float32Array(2 * width * hidden);
  embeds.set(lm.embed(short), pad * hidden);
  embeds.set(lm.embed(long), width * hidden);
  const mask = BigInt64Array.from({ length: 2 * width }, (_, i) => (i < pad ? 0n : 1n));
  // position_ids = cumsum(mask) - 1, padding set to 1, as transformers' generate prepares them.
  const pos = BigInt64Array.from({ length: 2 * width }, (_, i) => (i < pad ? 1n : i < width ? BigInt(i - pad) : BigInt(i - width)));
  return { step: { inputsEmbeds: embeds, batch: 2, seq: width, attentionMask: mask, positionIds: pos, past: null, lastLogitsOnly: false }, width, pad, mask };
}

describe.each(fixtureArchs)('%s language model', (arch) => {
  const model = tiny(arch);

  /** Logits [seq, vocab] of one unpadded sequence in one forward without a cache. */
  async function full(lm: LanguageModel, tokens: number[]): Promise<Float32Array> {
    const n = tokens.length;
    const { logits } = await lm.forward({
      inputsEmbeds: lm.embed(tokens), batch: 1, seq: n, attentionMask: ones(n), positionIds: positions(0, n), past: null, lastLogitsOnly: false,
    });
    return logits;
  }

  it('forward matches the naive float64 forward', async () => {
    const { lm, weights } = await model;
    const naive = naiveForward(lm.config, weights, naiveEmbed(lm.config, weights, ids), ids.length);
    expect(maxDiff(await full(lm, ids), naive.logits)).toBeLessThan(5e-5);
  });

  it.each([0, 1, 5])('decodes with the KV cache as a full forward does (prefill %i tokens, then one at a time; max abs diff < 1e-4)', async (k) => {
    const { lm } = await model;
    const vocab = lm.config.text.vocabSize;
    const reference = await full(lm, ids);
    let past: KvCache | null = null;
    let done = 0;
    const step = async (n: number) => {
      const out = await lm.forward({
        inputsEmbeds: lm.embed(ids.slice(done, done + n)), batch: 1, seq: n,
        attentionMask: ones(done + n), positionIds: positions(done, n), past, lastLogitsOnly: false,
      });
      expect(out.present.length).toBe(done + n);
      expect(out.present.capacity).toBeGreaterThanOrEqual(done + n);
      expect(out.present.layers[0].key.length).toBe(lm.config.text.numKvHeads * out.present.capacity * lm.config.text.headDim);
      expect(maxDiff(out.logits, reference.subarray(done * vocab, (done + n) * vocab))).toBeLessThan(1e-4);
      past = out.present;
      done += n;
    };
    if (k > 0) await step(k);
    while (done < ids.length) await step(1);
  });

  it('gives each row of a left-padded batch the logits it has alone', async () => {
    const { lm } = await model;
    const vocab = lm.config.text.vocabSize;
    const short = [9, 30, 31, 60];
    const long = ids;
    const { step: padded, width, pad, mask } = leftPaddedPair(lm, short, long);
    const prefill = await lm.forward(padded);
    expect(maxDiff(prefill.logits.subarray(pad * vocab, width * vocab), await full(lm, short))).toBeLessThan(1e-4);
    expect(maxDiff(prefill.logits.subarray(width * vocab), await full(lm, long))).toBeLessThan(1e-4);

    // One cached step more for both rows, then the short row alone from its selected cache rows.
    const next = [77, 78];
    const step = await lm.forward({
      inputsEmbeds: lm.embed(next), batch: 2, seq: 1, attentionMask: BigInt64Array.from([...mask.subarray(0, width), 1n, ...mask.subarray(width), 1n]),
      positionIds: BigInt64Array.from([BigInt(short.length), BigInt(long.length)]), past: prefill.present, lastLogitsOnly: true,
    });
    expect(maxDiff(step.logits.subarray(0, vocab), (await full(lm, [...short, 77])).subarray(short.length * vocab))).toBeLessThan(1e-4);
    expect(maxDiff(step.logits.subarray(vocab), (await full(lm, [...long, 78])).subarray(long.length * vocab))).toBeLessThan(1e-4);
    // The long row kept alone, in place, goes on as it would have.
    const cache = step.present;
    const second = cache.layers[1].value.slice(cache.layers[1].value.length / 2);
    const buffer = cache.layers[1].value.buffer;
    keepCacheRows(cache, [1]);
    expect(cache.batch).toBe(1);
    expect(cache.layers[1].value).toEqual(second);
    expect(cache.layers[1].value.buffer).toBe(buffer);
    const more = await lm.forward({
      inputsEmbeds: lm.embed([79]), batch: 1, seq: 1, attentionMask: ones(width + 2), positionIds: positions(long.length + 1, 1), past: cache, lastLogitsOnly: true,
    });
    expect(maxDiff(more.logits, (await full(lm, [...long, 78, 79])).subarray((long.length + 1) * vocab))).toBeLessThan(1e-4);
    expect(() => keepCacheRows(more.present, [1])).toThrow('keepCacheRows: rows must be increasing indices below 1, got 1');
  });

  it('keeps a decode step\'s cache on the device where the provider can (WebGPU), and gives the logits the arrays give', async () => {
    const { lm } = await model;
    const onWebGpu = engineSettings().device === 'webgpu';
    const prefill = await lm.forward({ inputsEmbeds: lm.embed(ids.slice(0, 5)), batch: 1, seq: 5, attentionMask: ones(5), positionIds: positions(0, 5), past: null, lastLogitsOnly: true });
    // Room for the steps, as generate makes; one cache goes on from its device copy, the other from its arrays.
    let kept = stackCachesLeftPadded([prefill.present], 5, ids.length);
    let arrays = stackCachesLeftPadded([prefill.present], 5, ids.length);
    for (let k = 5; k < ids.length; k++) {
      const step = (past: KvCache, keepCacheOnDevice: boolean) => lm.forward({
        inputsEmbeds: lm.embed([ids[k]]), batch: 1, seq: 1, attentionMask: ones(k + 1), positionIds: positions(k, 1), past, lastLogitsOnly: true, keepCacheOnDevice,
      });
      const [fromKept, fromArrays] = [await step(kept, true), await step(arrays, false)];
      expect(maxDiff(fromKept.logits, fromArrays.logits), `step ${k}`).toBeLessThan(1e-5);
      [kept, arrays] = [fromKept.present, fromArrays.present];
      expect(kept.device?.every(({ key, value }) => key.location === 'gpu-buffer' && value.location === 'gpu-buffer') ?? false).toBe(onWebGpu);
      expect(arrays.device).toBeUndefined();
    }
    // Changing the arrays drops the device copy, which no longer matches them.
    keepCacheRows(kept, [0]);
    expect(kept.device).toBeUndefined();
  });

  it('in float16 (ISR_PRECISION=float16) gives the naive float64 forward\'s logits to half precision, padded rows included', async () => {
    const { lm, weights } = await model;
    const vocab = lm.config.text.vocabSize;
    const half = new LanguageModel(lm.config, weights);
    cleanup.push(() => half.release());
    const short = [9, 30, 31, 60];
    const { step, width, pad } = leftPaddedPair(half, short, ids);
    const padded = await withEnv({ ISR_PRECISION: 'float16' }, () => half.forward(step));
    expect(padded.logits.every(Number.isFinite)).toBe(true);
    // Row 0 is the short prompt after its padding, row 1 the long one; float32 gives about 1e-6 of the scale.
    for (const [tokens, rows] of [[short, [pad, width]], [ids, [width, 2 * width]]] as const) {
      const naive = naiveForward(lm.config, weights, naiveEmbed(lm.config, weights, tokens), tokens.length).logits;
      const error = maxDiff(padded.logits.subarray(rows[0] * vocab, rows[1] * vocab), naive) / Math.max(...Array.from(naive, Math.abs));
      expect(error).toBeLessThan(5e-3);
      expect(error).toBeGreaterThan(1e-5);
    }
  });

  describe('a step longer than prefillChunk, in chunks over the growing cache', () => {
    const chunked = model.then(({ lm, weights }) => new LanguageModel(lm.config, weights, { prefillChunk: 3 }));

    it('gives the naive forward\'s logits at every position, and the cache of one run', async () => {
      const { lm, weights } = await model;
      const inChunks = await chunked;
      const n = ids.length;
      const step = { inputsEmbeds: lm.embed(ids), batch: 1, seq: n, attentionMask: ones(n), positionIds: positions(0, n), past: null };
      const out = await inChunks.forward({ ...step, lastLogitsOnly: false });
      expect(maxDiff(out.logits, naiveForward(lm.config, weights, naiveEmbed(lm.config, weights, ids), n).logits)).toBeLessThan(5e-5);
      const whole = await lm.forward({ ...step, lastLogitsOnly: true });
      expect(out.present.length).toBe(n);
      expect(out.present.capacity).toBe(n);
      out.present.layers.forEach(({ key, value }, l) => {
        expect(maxDiff(key, whole.present.layers[l].key)).toBeLessThan(1e-5);
        expect(maxDiff(value, whole.present.layers[l].value)).toBeLessThan(1e-5);
      });
      const last = await inChunks.forward({ ...step, lastLogitsOnly: true });
      expect(maxDiff(last.logits, whole.logits)).toBeLessThan(1e-5);
    });

    it('gives each row of a left-padded batch the logits it has alone, chunks of padding included', async () => {
      const { lm } = await model;
      const inChunks = await chunked;
      const vocab = lm.config.text.vocabSize;
      const short = [9, 30, 31];
      const { step, width, pad } = leftPaddedPair(lm, short, ids);
      const out = await inChunks.forward(step);
      expect(maxDiff(out.logits.subarray(pad * vocab, width * vocab), await full(lm, short))).toBeLessThan(1e-4);
      expect(maxDiff(out.logits.subarray(width * vocab), await full(lm, ids))).toBeLessThan(1e-4);
    });

    it('returns attention rows of queries in the order asked, across chunks', async () => {
      const { lm, weights } = await model;
      const inChunks = await chunked;
      const { numHeads: heads } = lm.config.text;
      const seq = ids.length;
      const queries = [seq - 1, 2, 7, 3];
      const got = await inChunks.attention(lm.embed(ids), seq, [1, 0], queries);
      const naive = naiveForward(lm.config, weights, naiveEmbed(lm.config, weights, ids), seq, { attention: true });
      for (const [i, layer] of [1, 0].entries()) {
        for (let h = 0; h < heads; h++) {
          queries.forEach((q, r) => {
            const row = got.probs[i].subarray((h * queries.length + r) * seq, (h * queries.length + r + 1) * seq);
            expect(maxDiff(row, naive.attentions[layer].subarray((h * seq + q) * seq, (h * seq + q + 1) * seq))).toBeLessThan(1e-5);
          });
        }
      }
      expect(maxDiff(got.lastLogits, naive.logits.subarray((seq - 1) * lm.config.text.vocabSize))).toBeLessThan(5e-5);
    });
  });

  it('stacks caches of prompts prefilled alone, left-padded, into a batch whose next step is each prompt\'s own', async () => {
    const { lm } = await model;
    const vocab = lm.config.text.vocabSize;
    const prompts = [[9, 30, 31, 60], ids];
    const alone: KvCache[] = [];
    for (const p of prompts) alone.push((await lm.forward({ inputsEmbeds: lm.embed(p), batch: 1, seq: p.length, attentionMask: ones(p.length), positionIds: positions(0, p.length), past: null, lastLogitsOnly: true })).present);
    const width = ids.length;
    const capacity = width + 3;
    const stacked = stackCachesLeftPadded(alone, width, capacity);
    const { kvHeads: kv, headDim: d } = stacked;
    expect([stacked.batch, stacked.length, stacked.capacity, stacked.layers[0].key.length]).toEqual([2, width, capacity, 2 * kv * capacity * d]);
    // Slot t of row r holds the prompt's slot t - pad, and the padding slots hold zeros.
    const pad = width - prompts[0].length;
    const key = stacked.layers[1].key;
    const own = alone[0].layers[1].key;
    for (let h = 0; h < kv; h++) {
      for (let t = 0; t < width; t++) {
        const got = key.subarray(((0 * kv + h) * capacity + t) * d, ((0 * kv + h) * capacity + t + 1) * d);
        expect([...got]).toEqual(t < pad ? new Array(d).fill(0) : [...own.subarray((h * prompts[0].length + t - pad) * d, (h * prompts[0].length + t - pad + 1) * d)]);
      }
    }
    const mask = BigInt64Array.from({ length: 2 * (width + 1) }, (_, i) => (i < pad ? 0n : 1n));
    // The free slots hold whatever they hold: the mask hides them.
    for (const layer of stacked.layers) for (let r = 0; r < 2 * kv; r++) layer.value.fill(1e3, (r * capacity + width) * d, (r + 1) * capacity * d);
    const arrays = stacked.layers[1].key;
    const step = await lm.forward({
      inputsEmbeds: lm.embed([77, 78]), batch: 2, seq: 1, attentionMask: mask,
      positionIds: BigInt64Array.from(prompts, (p) => BigInt(p.length)), past: stacked, lastLogitsOnly: true,
    });
    expect(maxDiff(step.logits.subarray(0, vocab), (await full(lm, [...prompts[0], 77])).subarray(prompts[0].length * vocab))).toBeLessThan(1e-4);
    expect(maxDiff(step.logits.subarray(vocab), (await full(lm, [...ids, 78])).subarray(ids.length * vocab))).toBeLessThan(1e-4);
    // Written where it lies: the same arrays, one more slot used.
    expect(step.present.layers[1].key).toBe(arrays);
    expect(step.present.length).toBe(width + 1);
    expect(() => stackCachesLeftPadded(alone, 3)).toThrow('each cache must be one row of at most 3 slots, got 1 rows of 4');
    expect(() => stackCachesLeftPadded(alone, width, width - 1)).toThrow(`a capacity of ${width - 1} slots cannot hold ${width}`);
  });

  it('replaces exactly the visual token rows with the features, in order, and rejects a count mismatch', async () => {
    const { lm } = await model;
    const hidden = lm.config.text.hiddenSize;
    const tokenId = (lm.config as Idefics3Config | LlavaOnevisionConfig).imageTokenId;
    const prompt = [5, tokenId, tokenId, 17, tokenId, 42];
    const features = Float32Array.from({ length: 3 * hidden }, (_, i) => 100 + i);
    const plain = lm.embed(prompt);
    const mixed = lm.embed(prompt, { tokenId, features });
    prompt.forEach((id, t) => {
      const row = mixed.subarray(t * hidden, (t + 1) * hidden);
      const slot = prompt.slice(0, t).filter((p) => p === tokenId).length;
      expect(row).toEqual(id === tokenId ? features.subarray(slot * hidden, (slot + 1) * hidden) : plain.subarray(t * hidden, (t + 1) * hidden));
    });
    expect(() => lm.embed(prompt, { tokenId, features: features.subarray(0, 2 * hidden) })).toThrow(/3 tokens of id .*, 2 feature rows/);
    // The message names the field the vocabulary comes from, in its file, and where the id stood.
    const vocab = lm.config.text.vocabSize;
    expect(() => lm.embed([3, vocab])).toThrow(`token id ${vocab} (position 1 of the 2 input ids) is outside the vocabulary of ${vocab}, ${lm.config.file} text_config.vocab_size`);
  });

  it('returns per-layer attention probabilities of the naive forward', async () => {
    const { lm, weights } = await model;
    const { numHeads: heads } = lm.config.text;
    const seq = ids.length;
    const { probs } = await lm.attention(lm.embed(ids), seq, [1]);
    const naive = naiveForward(lm.config, weights, naiveEmbed(lm.config, weights, ids), seq, { attention: true });
    expect(probs).toHaveLength(1);
    expect(probs[0]).toHaveLength(heads * seq * seq);
    expect(maxDiff(probs[0], naive.attentions[1])).toBeLessThan(1e-5);
    // Asked for some queries, only their rows come back: [heads, queries, seq].
    const queries = [seq - 1, 2];
    const rows = await lm.attention(lm.embed(ids), seq, [1, 0], queries);
    expect(rows.probs.map((p) => p.length)).toEqual([heads * 2 * seq, heads * 2 * seq]);
    for (const [i, layer] of [1, 0].entries()) {
      for (let h = 0; h < heads; h++) {
        queries.forEach((q, r) => expect(maxDiff(rows.probs[i].subarray((h * 2 + r) * seq, (h * 2 + r + 1) * seq), naive.attentions[layer].subarray((h * seq + q) * seq, (h * seq + q + 1) * seq))).toBeLessThan(1e-5));
      }
    }
    await expect(lm.attention(lm.embed(ids), seq, [1], [seq])).rejects.toThrow(/query position 11 is outside the 11 positions/);
    await expect(lm.attention(lm.embed(ids), seq, [lm.config.text.numLayers])).rejects.toThrow(/out of range/);
  });

  it('takes its embedding rows from the model\'s one shared array while one lives, which graphs built later get too', async () => {
    const { lm, weights } = await model;
    const name = [...weights.shapes.keys()].find((n) => n.endsWith('embed_tokens.weight'))!;
    const table = weights.shared(name, 'stored');
    expect(weights.shared(name, 'stored')).toBe(table);
    const hidden = lm.hiddenSize;
    const row = table.slice(7 * hidden, 8 * hidden);
    try {
      table.fill(0.25, 7 * hidden, 8 * hidden); // seen by the lookup: it reads the live array, not the file
      expect(Array.from(lm.embed([7]))).toEqual(new Array(hidden).fill(0.25));
    } finally {
      table.set(row, 7 * hidden);
    }
    expect(lm.embed([7])).toEqual(row);
    const q = name.replace('embed_tokens.weight', 'layers.0.self_attn.q_proj.weight');
    const [out, inF] = weights.shapes.get(q)!;
    const matmul = weights.shared(q, 'matmul');
    expect(weights.shared(q, 'matmul')).toBe(matmul);
    expect(matmul[1 * out + 2]).toBe(weights.get(q)[2 * inF + 1]); // MatMul's [in, out]: element (1, 2) is torch's (2, 1)
  });

  it('rejects inputs of the wrong size', async () => {
    const { lm } = await model;
    await expect(lm.forward({ inputsEmbeds: new Float32Array(3), batch: 1, seq: 1, attentionMask: ones(1), positionIds: positions(0, 1), past: null, lastLogitsOnly: true }))
      .rejects.toThrow(/inputsEmbeds has 3 values/);
  });
});

describe('LanguageModel sessions', () => {
  it('are built lazily, once: no session for the embeddings, one decoder for decoding, full logits and attention', async () => {
    const create = vi.spyOn(Session, 'create');
    const { lm } = await tiny('idefics3');
    lm.embed([1, 2, 3]);
    expect(create).not.toHaveBeenCalled();
    const run = (lastLogitsOnly: boolean) => lm.forward({ inputsEmbeds: new Float32Array(lm.config.text.hiddenSize), batch: 1, seq: 1, attentionMask: ones(1), positionIds: positions(0, 1), past: null, lastLogitsOnly });
    await Promise.all([run(true), run(true)]);
    await run(true);
    await run(false);
    await lm.attention(new Float32Array(lm.config.text.hiddenSize), 1, [0]);
    await lm.attention(new Float32Array(lm.config.text.hiddenSize), 1, [0]);
    await lm.attention(new Float32Array(lm.config.text.hiddenSize), 1, [1]);
    expect(create.mock.calls.map((c) => c[1].graphName)).toEqual(['decoder']);
    create.mockRestore();
  });
});
