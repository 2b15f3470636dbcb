import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Idefics3Config, LlavaOnevisionConfig } from '../model/families';
import { fixtureArchs, writeFixture } from '../model/fixture';
import { LanguageModel } from '../model/language-model';
import { openWeights } from '../model/weights';
import { attentionOverKeys, foldVisual } from './attention';

const corpus = ['What colour is the square?', 'Which way does the red circle move?', 'How many shapes are in the video?'];
const sum = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0);

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanup) await c();
});

describe('attentionOverKeys', () => {
  it('averages the chosen query rows over heads and layers', () => {
    // 2 layers, 1 head, 3 tokens; rows are distributions over the keys up to the query.
    const l0 = Float32Array.from([1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5]);
    const l1 = Float32Array.from([1, 0, 0, 0.9, 0.1, 0, 0.6, 0.2, 0.2]);
    const perKey = attentionOverKeys([l0, l1], 1, 3, [1, 2]);
    expect(Array.from(perKey)).toEqual([0.55, 0.275, 0.175].map((v) => expect.closeTo(v, 6)));
    expect(sum(perKey)).toBeCloseTo(1, 6);
    expect(() => attentionOverKeys([l0], 1, 3, [3])).toThrow(/query position 3/);
    expect(() => attentionOverKeys([l0], 2, 3, [0])).toThrow(/layer 0 has 9 values/);
  });
});

describe('foldVisual', () => {
  it('cuts each frame\'s key range into its grid and sums the visual share', () => {
    const perKey = Float32Array.from({ length: 12 }, (_, i) => i / 66); // sums to 1
    const { maps, visualShare } = foldVisual(perKey, { frameStarts: [2, 6], rows: 2, cols: 2 });
    expect(maps.map((m) => Array.from(m))).toEqual([[2, 3, 4, 5].map((i) => Math.fround(i / 66)), [6, 7, 8, 9].map((i) => Math.fround(i / 66))]);
    expect(visualShare).toBeCloseTo((2 + 3 + 4 + 5 + 6 + 7 + 8 + 9) / 66, 6);
    expect(() => foldVisual(perKey, { frameStarts: [10], rows: 2, cols: 2 })).toThrow(/frame 0 .* outside the 12 keys/);
  });
});

describe.each(fixtureArchs)('attention maps of the %s fixture', (arch) => {
  it('are probabilities over the keys, and fold onto the frames\' token ranges', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isr-attention-'));
    const { config } = writeFixture(dir, { arch, size: 'tiny', seed: 14, corpus });
    const weights = openWeights(dir, config);
    const lm = new LanguageModel(config, weights);
    cleanup.push(() => lm.release(), () => weights.close());
    const { numHeads: heads, hiddenSize: hidden } = config.text;

    // Two 2x2 "frames" of visual tokens between text tokens.
    const v = (config as Idefics3Config | LlavaOnevisionConfig).imageTokenId;
    const ids = [5, 17, v, v, v, v, 9, v, v, v, v, 42, 3, 8];
    const seq = ids.length;
    const features = Float32Array.from({ length: 8 * hidden }, (_, i) => Math.cos(i / 7));
    const layers = [0, 1];
    const { probs } = await lm.attention(lm.embed(ids, { tokenId: v, features }), seq, layers);
    expect(probs.map((p) => p.length)).toEqual(layers.map(() => heads * seq * seq));
    for (const p of probs) {
      expect(p.every((x) => x >= 0)).toBe(true);
      for (let row = 0; row < heads * seq; row++) {
        expect(sum(p.subarray(row * seq, (row + 1) * seq))).toBeCloseTo(1, 5);
        const q = row % seq;
        expect(sum(p.subarray(row * seq + q + 1, (row + 1) * seq))).toBe(0); // causal: no later keys
      }
    }

    const queries = [seq - 2, seq - 1];
    const perKey = attentionOverKeys(probs, heads, seq, queries);
    expect(perKey).toHaveLength(seq);
    expect(sum(perKey)).toBeCloseTo(1, 5);
    const layout = { frameStarts: [2, 7], rows: 2, cols: 2 };
    const { maps, visualShare } = foldVisual(perKey, layout);
    expect(maps.map((m) => Array.from(m))).toEqual([Array.from(perKey.subarray(2, 6)), Array.from(perKey.subarray(7, 11))]);
    expect(visualShare).toBeGreaterThan(0);
    expect(visualShare).toBeLessThanOrEqual(1);
    expect(visualShare).toBeCloseTo(sum(perKey.subarray(2, 6)) + sum(perKey.subarray(7, 11)), 6);
  });
});
