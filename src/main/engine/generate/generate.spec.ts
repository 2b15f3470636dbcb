import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../../shared/errors';
import type { Idefics3Config, LlavaOnevisionConfig } from '../model/families';
import { fixtureArchs, writeFixture } from '../model/fixture';
import { LanguageModel } from '../model/language-model';
import { openWeights } from '../model/weights';
import { batchRowsFor, generate, maxBatchRows, type GenerateOptions, type GenerateRequest } from './generate';
import { argmax } from './sampling';

const corpus = ['What colour is the square?', 'Which way does the red circle move?', 'How many shapes are in the video?'];
const requests: GenerateRequest[] = [{ inputIds: [5, 17, 42, 3, 99, 100, 7] }, { inputIds: [9, 30] }, { inputIds: [11, 12, 13, 14, 15] }];
// No id of the tiny vocabulary is -1: generation runs to maxNewTokens unless a test says otherwise.
const base: GenerateOptions = { maxNewTokens: 8, stopTokenIds: [-1] };
const sampled: GenerateOptions = { ...base, temperature: 1, topK: 50, topP: 0.95 };
/** A decode where every token is a distinct `<id>`, so a stop string picks exact token boundaries. */
const decode = (tokens: number[]) => tokens.map((t) => `<${t}>`).join('');

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup) await c();
});

describe.each(fixtureArchs)('generate on the %s fixture', (arch) => {
  const loaded = (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isr-generate-'));
    const { config } = writeFixture(dir, { arch, size: 'tiny', seed: 13, corpus });
    const weights = openWeights(dir, config);
    const lm = new LanguageModel(config, weights);
    cleanup.push(() => lm.release(), () => weights.close());
    return { lm, weights };
  })();
  const model = loaded.then((m) => m.lm);

  it('greedy is deterministic and is the argmax of a full forward at every step', async () => {
    const lm = await model;
    const [first, again] = [await generate(lm, requests, base), await generate(lm, requests, base)];
    expect(again).toEqual(first);
    const vocab = lm.config.text.vocabSize;
    for (const g of first) {
      expect(g.finishReason).toBe('length');
      expect(g.tokenIds).toHaveLength(base.maxNewTokens);
      const tokens = [...requests[g.request].inputIds];
      for (const next of g.tokenIds) {
        const n = tokens.length;
        const { logits } = await lm.forward({
          inputsEmbeds: lm.embed(tokens), batch: 1, seq: n, attentionMask: new BigInt64Array(n).fill(1n),
          positionIds: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), past: null, lastLogitsOnly: false,
        });
        expect(next).toBe(argmax(logits.subarray((n - 1) * vocab)));
        tokens.push(next);
      }
    }
  });

  it('gives the same samples for a seed, other samples for another, and one stream per sample', async () => {
    const lm = await model;
    const a = await generate(lm, requests, { ...sampled, samples: 2, seed: 1 });
    expect(await generate(lm, requests, { ...sampled, samples: 2, seed: 1 })).toEqual(a);
    const b = await generate(lm, requests, { ...sampled, samples: 2, seed: 2 });
    expect(b.map((g) => g.tokenIds)).not.toEqual(a.map((g) => g.tokenIds));
    expect(a.map((g) => [g.request, g.sample])).toEqual([[0, 0], [0, 1], [1, 0], [1, 1], [2, 0], [2, 1]]);
    expect(a[0].tokenIds).not.toEqual(a[1].tokenIds);
  });

  it('gives the same tokens batched with left padding as one row at a time', async () => {
    const lm = await model;
    const options = { ...sampled, samples: 2, seed: 5 };
    const alone = await generate(lm, requests, { ...options, batchSize: 1 });
    expect(await generate(lm, requests, { ...options, batchSize: 6 })).toEqual(alone);
    expect(await generate(lm, requests, { ...options, batchSize: 4 })).toEqual(alone);
  });

  it('draws with a seed per row exactly what each row draws alone with that seed', async () => {
    const lm = await model;
    const seeds = [[11, 12, 13], [21, 22, 23], [31, 32, 33]];
    const together = await generate(lm, requests, { ...sampled, samples: 3, batchSize: 9, rowSeed: (r, k) => seeds[r][k] });
    const alone = [];
    for (const [r, request] of requests.entries()) {
      for (const seed of seeds[r]) alone.push((await generate(lm, [request], { ...sampled, seed }))[0].tokenIds);
    }
    expect(together.map((g) => g.tokenIds)).toEqual(alone);
    expect(new Set(alone.map((t) => t.join(' '))).size, 'the seeds draw different samples').toBeGreaterThan(1);
    await expect(generate(lm, requests, { ...sampled, rowSeed: () => 0.5 })).rejects.toThrow(/rowSeed gave 0.5 for request 0, sample 0/);
  });

  it('decodes as many rows together as keep their KV caches within the budget: up to 8, at least 1', async () => {
    const lm = await model;
    const t = lm.config.text;
    const bytesPerToken = t.numLayers * 2 * t.numKvHeads * t.headDim * 4;
    expect(batchRowsFor(lm, 100)).toBe(maxBatchRows);
    // Three rows' caches of this many tokens fill 256 MiB.
    const threeFit = Math.floor(256 * 2 ** 20 / (3 * bytesPerToken));
    expect(batchRowsFor(lm, threeFit)).toBe(3);
    expect(batchRowsFor(lm, threeFit + 1)).toBe(2);
    expect(batchRowsFor(lm, 10 ** 9)).toBe(1);
  });

  it('stops at a stop token id, leaving it out', async () => {
    const lm = await model;
    const [free] = await generate(lm, [requests[0]], { ...sampled, seed: 3 });
    const k = free.tokenIds.findIndex((t, i) => i >= 2 && !free.tokenIds.slice(0, i).includes(t));
    expect(k).toBeGreaterThan(0);
    const [stopped] = await generate(lm, [requests[0]], { ...sampled, seed: 3, stopTokenIds: [free.tokenIds[k]] });
    expect(stopped).toEqual({ request: 0, sample: 0, tokenIds: free.tokenIds.slice(0, k), finishReason: 'eos' });
  });

  it('stops at a stop string, keeping the tokens up to the one that completes it', async () => {
    const lm = await model;
    const [free] = await generate(lm, [requests[0]], { ...sampled, seed: 4 });
    const k = free.tokenIds.findIndex((_, i) => i >= 2 && !decode(free.tokenIds.slice(0, i)).includes(decode(free.tokenIds.slice(i - 1, i + 1))));
    expect(k).toBeGreaterThan(0);
    const stop = decode(free.tokenIds.slice(k - 1, k + 1));
    const [stopped] = await generate(lm, [requests[0]], { ...sampled, seed: 4, stopStrings: ['never', stop], decode });
    expect(stopped).toEqual({ request: 0, sample: 0, tokenIds: free.tokenIds.slice(0, k + 1), finishReason: 'stop' });
    await expect(generate(lm, [requests[0]], { ...sampled, stopStrings: [stop] })).rejects.toThrow(/decode/);
  });

  it('stops at maxNewTokens with finishReason length', async () => {
    const lm = await model;
    const out = await generate(lm, requests, { ...sampled, maxNewTokens: 3 });
    expect(out.map((g) => [g.tokenIds.length, g.finishReason])).toEqual(requests.map(() => [3, 'length']));
    await expect(generate(lm, requests, { ...sampled, maxNewTokens: 0 })).rejects.toThrow(/maxNewTokens/);
  });

  it("stops a row at the model's context end, max_position_embeddings, with finishReason length", async () => {
    const { lm, weights } = await loaded;
    const longest = Math.max(...requests.map((r) => r.inputIds.length));
    const short = new LanguageModel({ ...lm.config, text: { ...lm.config.text, maxPositionEmbeddings: longest + 2 } }, weights);
    cleanup.push(() => short.release());
    const out = await generate(short, requests, { ...sampled, maxNewTokens: 10 });
    expect(out.map((g) => [g.tokenIds.length, g.finishReason])).toEqual(requests.map((r) => [longest + 2 - r.inputIds.length, 'length']));
  });

  it('streams every kept token in order through onToken, rows finishing at different steps', async () => {
    const lm = await model;
    const options = { ...sampled, seed: 6, samples: 2 };
    const free = await generate(lm, requests, options);
    const seen: { request: number; sample: number; tokenId: number }[] = [];
    const out = await generate(lm, requests, { ...options, stopTokenIds: [free[4].tokenIds[3]], onToken: (e) => seen.push(e) });
    expect(new Set(out.map((g) => g.finishReason))).toEqual(new Set(['eos', 'length']));
    for (const g of out) expect(seen.filter((e) => e.request === g.request && e.sample === g.sample).map((e) => e.tokenId)).toEqual(g.tokenIds);
    expect(seen).toHaveLength(out.reduce((n, g) => n + g.tokenIds.length, 0));
  });

  it('throws the cancelled ApiError when the signal is aborted, before or during generation', async () => {
    const lm = await model;
    const cancelled = { name: 'ApiError', code: 'cancelled', message: 'generation cancelled' };
    await expect(generate(lm, requests, { ...base, signal: AbortSignal.abort() })).rejects.toMatchObject(cancelled);
    const controller = new AbortController();
    let tokens = 0;
    const during = generate(lm, requests, { ...base, signal: controller.signal, onToken: () => ++tokens === 4 && controller.abort() });
    await expect(during).rejects.toBeInstanceOf(ApiError);
    await expect(during).rejects.toMatchObject(cancelled);
    expect(tokens).toBeLessThan(requests.length * base.maxNewTokens);
  });

  it('generates from visual features spliced into the prompt', async () => {
    const lm = await model;
    const hidden = lm.config.text.hiddenSize;
    const tokenId = (lm.config as Idefics3Config | LlavaOnevisionConfig).imageTokenId;
    const features = Float32Array.from({ length: 2 * hidden }, (_, i) => Math.sin(i));
    const request = { inputIds: [5, tokenId, tokenId, 17], visual: { tokenId, features } };
    const [withVisual] = await generate(lm, [request], base);
    const n = request.inputIds.length;
    const { logits } = await lm.forward({
      inputsEmbeds: lm.embed(request.inputIds, request.visual), batch: 1, seq: n, attentionMask: new BigInt64Array(n).fill(1n),
      positionIds: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), past: null, lastLogitsOnly: true,
    });
    expect(withVisual.tokenIds[0]).toBe(argmax(logits));
    await expect(generate(lm, [{ ...request, visual: { tokenId, features: features.subarray(hidden) } }], base)).rejects.toThrow(/2 tokens .* 1 feature rows/);
  });
});
