import { mkdtempSync, openSync, readFileSync, readSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCheckpoint, writeCheckpoint, type TensorToWrite } from '../graph/safetensors';
import { readModelConfig } from './config';
import { tokenizerStyles, type TokenizerStyle } from './fixture-tokenizer';
import { checkpointPreset, checkpointPresetIds } from './checkpoint-presets';
import { fixtureArchs, writeCheckpointFixture, writeFixture } from './fixture';
import { readPreprocessorConfig } from './preprocess';
import { ModelTokenizer } from './tokenizer';
import { VideoLanguageModel } from './vlm';
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
  idefics3: { style: tokenizerStyles.idefics3, visualTokens: { imageTokenId: '<image>' }, chat: '<|im_start|>User:<image>What colour?<end_of_utterance>\nAssistant:' },
  smolvlm: { style: tokenizerStyles.smolvlm, visualTokens: { imageTokenId: '<image>' }, chat: '<|im_start|>User:<image>What colour?<end_of_utterance>\nAssistant:' },
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

/** Bytes of a safetensors file after its 8-byte length and header: its tensors' bytes. */
function tensorBytes(file: string): number {
  const fd = openSync(file, 'r');
  const length = Buffer.alloc(8);
  readSync(fd, length, 0, 8, 0);
  closeSync(fd);
  return statSync(file).size - 8 - Number(length.readBigUInt64LE(0));
}

// One layer a tower (--layers 1) and 50 MB shards: every file and token as published, weights sharded.
describe.each(checkpointPresetIds)('the %s stand-in', (like) => {
  it('holds the published files, the special tokens at their ids, every id a token, and every weight once in the index', { timeout: 60_000 }, () => {
    const dir = fresh();
    const preset = checkpointPreset(like);
    const { config, parameters } = writeCheckpointFixture(dir, { like, seed: 1, corpus, layers: 1, maxShardBytes: 50e6 });
    const read = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Record<string, unknown>;
    const published = preset.files['config.json'] as Record<string, Record<string, unknown>>;
    expect(read('config.json')).toEqual({
      ...published,
      text_config: { ...published.text_config, num_hidden_layers: 1 },
      vision_config: { ...published.vision_config, num_hidden_layers: 1 },
    });
    for (const [file, value] of Object.entries(preset.files)) if (file !== 'config.json') expect(read(file), file).toEqual(value);
    expect(read('chat_template.json')).toEqual({ chat_template: preset.chatTemplate.text });

    const tok = ModelTokenizer.load(dir);
    for (const { id, content } of preset.tokenizer.added) expect(tok.tokenId(content), content).toBe(id);
    const json = read('tokenizer.json') as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] };
    const ids = new Set([...Object.values(json.model.vocab), ...json.added_tokens.map((t) => t.id)]);
    expect(ids.size).toBe(config.text.vocabSize);
    expect([...ids].reduce((a, b) => Math.max(a, b), 0)).toBe(config.text.vocabSize - 1);
    expect(tok.decode(tok.encode('What colour is the square?'))).toBe('What colour is the square?');
    // Text sampled from anywhere in the vocabulary encodes back to about as many tokens (here 60 ids
    // from the top of the vocabulary, where only filler pieces are; neighbours may merge differently
    // across their boundary).
    const sampled = Array.from({ length: 60 }, (_, i) => config.text.vocabSize - 1 - 37 * i).filter((id) => !preset.tokenizer.added.some((t) => t.id === id));
    const again = tok.encode(tok.decode(sampled));
    expect(again.length).toBeGreaterThanOrEqual(sampled.length * 0.9);
    expect(again.length).toBeLessThanOrEqual(sampled.length * 2);

    const index = read('model.safetensors.index.json') as { metadata: { total_size: number }; weight_map: Record<string, string> };
    const shapes = expectedWeights(config);
    expect(Object.keys(index.weight_map).sort()).toEqual([...shapes.keys()].sort());
    const shards = [...new Set(Object.values(index.weight_map))];
    expect(shards.length).toBeGreaterThan(1);
    expect(shards.reduce((sum, file) => sum + tensorBytes(join(dir, file)), 0)).toBe(index.metadata.total_size);
    expect(index.metadata.total_size).toBe(parameters * 2);
    const source = openCheckpoint(dir);
    for (const [name, shape] of shapes) expect(source.info(name), name).toMatchObject({ dtype: preset.weights.dtype, shape });
    source.close();
    // The published files pass every check of loading (token ids, sizes against the weights, the chat template's prompts).
    expect(VideoLanguageModel.check(dir)).toEqual(config);
  });
});
