import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCheckpoint, writeCheckpoint, type TensorToWrite } from '../graph/safetensors';
import { readModelConfig } from './config';
import { tokenizerStyles, type TokenizerStyle } from './fixture-tokenizer';
import { fixtureArchs, writeFixture } from './fixture';
import { readPreprocessorConfig } from './preprocess';
import { ModelTokenizer } from './tokenizer';
import { expectedWeights, openWeights } from './weights';

const corpus = ['What colour is the square?', 'Which way does the red circle move?', 'How many shapes are in the video?'];
const fresh = () => mkdtempSync(join(tmpdir(), 'isr-fixture-'));

/** Rewrites a fixture's checkpoint through `edit`, which may rename, drop or replace tensors. */
function rewrite(dir: string, edit: (tensors: Record<string, TensorToWrite>) => void): void {
  const source = openCheckpoint(dir);
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of source.names()) tensors[name] = { dtype: 'F32', shape: source.info(name).shape, data: source.readAsFloat32(name) };
  source.close();
  edit(tensors);
  writeCheckpoint(dir, tensors);
}

// What each family's published tokenizer does, as the fixture must reproduce it.
const published: Record<string, { style: TokenizerStyle; visualTokens: Record<string, string>; chat: string }> = {
  'llava-onevision': { style: tokenizerStyles.chatml, visualTokens: { imageTokenId: '<image>', videoTokenId: '<video>' }, chat: '<|im_start|>user\n<image>\nWhat colour?<|im_end|>\n<|im_start|>assistant\n' },
  idefics3: { style: tokenizerStyles.idefics3, visualTokens: { imageTokenId: '<image>' }, chat: '<|im_start|>User:<image> What colour?<end_of_utterance>\nAssistant:' },
};

describe.each(fixtureArchs)('%s fixture', (arch) => {
  it('is a model folder the studio loads: config, every weight at its shape, tokenizer, preprocessor', () => {
    const dir = fresh();
    const { config, parameters } = writeFixture(dir, { arch, size: 'tiny', seed: 3, corpus });
    expect(readModelConfig(dir)).toEqual(config);
    const weights = openWeights(dir, config);
    const shapes = expectedWeights(config);
    expect(parameters).toBe([...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0));
    const [name, shape] = [...shapes].find(([n]) => n.endsWith('q_proj.weight'))!;
    expect(weights.get(name)).toHaveLength(shape[0] * shape[1]);
    weights.close();

    const tok = ModelTokenizer.load(dir);
    const { style, visualTokens, chat: expectedChat } = published[arch];
    expect(config.text.vocabSize).toBe(tok.tokenId(style.specialTokens.at(-1)!) + 1);
    expect(config).toMatchObject(Object.fromEntries(Object.entries(visualTokens).map(([key, token]) => [key, tok.tokenId(token)])));
    expect(tok.stopTokenIds()).toEqual([tok.tokenId(style.eos)]);
    const chat = tok.applyChatTemplate([{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What colour?' }] }], { addGenerationPrompt: true });
    expect(chat).toBe(expectedChat);
    expect(readPreprocessorConfig(dir).size).toEqual({ height: config.vision.imageSize, width: config.vision.imageSize });
  });

  it('is the same for a seed and different for another', () => {
    const [a, b, c] = [fresh(), fresh(), fresh()];
    writeFixture(a, { arch, size: 'tiny', seed: 1, corpus });
    writeFixture(b, { arch, size: 'tiny', seed: 1, corpus });
    writeFixture(c, { arch, size: 'tiny', seed: 2, corpus });
    const bytes = (d: string) => readFileSync(join(d, 'model.safetensors'));
    expect(bytes(a).equals(bytes(b))).toBe(true);
    expect(bytes(a).equals(bytes(c))).toBe(false);
  });
});

describe('loading weights', () => {
  it('names the tensor that is missing, misshapen, or of a non-float dtype', () => {
    const dir = fresh();
    const { config } = writeFixture(dir, { arch: 'idefics3', size: 'tiny', seed: 1, corpus });
    const target = 'model.text_model.layers.1.mlp.up_proj.weight';

    rewrite(dir, (t) => delete t[target]);
    expect(() => openWeights(dir, config)).toThrow(`weight "${target}" is missing (config.json implies shape [128, 64])`);

    rewrite(dir, (t) => (t[target] = { dtype: 'F32', shape: [64, 128], data: new Float32Array(64 * 128) }));
    expect(() => openWeights(dir, config)).toThrow(`weight "${target}" has shape [64, 128] but config.json implies [128, 64]`);

    rewrite(dir, (t) => (t[target] = { dtype: 'I64', shape: [128, 64], data: new BigInt64Array(128 * 64) }));
    expect(() => openWeights(dir, config)).toThrow(`weight "${target}" has dtype I64`);
  });

  it("loads LLaVA-OneVision saved in transformers 5's model.* layout under the Hub's names", () => {
    const dir = fresh();
    const { config } = writeFixture(dir, { arch: 'llava-onevision', size: 'tiny', seed: 1, corpus });
    const before = openWeights(dir, config).get('language_model.model.norm.weight');
    const toV5 = (name: string) =>
      name
        .replace(/^language_model\.model\./, 'model.language_model.')
        .replace(/^language_model\.lm_head\./, 'lm_head.')
        .replace(/^(vision_tower|multi_modal_projector|image_newline)/, 'model.$1');
    rewrite(dir, (t) => {
      for (const [name, tensor] of Object.entries(t)) {
        delete t[name];
        t[toV5(name)] = tensor;
      }
    });
    expect(openCheckpoint(dir).names().some((n) => n.startsWith('language_model.'))).toBe(false);
    expect(openWeights(dir, config).get('language_model.model.norm.weight')).toEqual(before);
  });
});
