import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../graph/safetensors';
import { readModelConfig } from '../config';
import { writeFixture } from '../fixture';
import type { ChatMessage } from '../tokenizer';
import { VideoLanguageModel } from '../vlm';
import { expectedWeights } from '../weights';
import { familyById, registerFamily } from '.';
import { Idefics3Family } from './idefics3';

const corpus = ['What colour is the square?', 'red', 'blue'];
const ask: ChatMessage[] = [{ role: 'user', content: [{ type: 'video' }, { type: 'text', text: 'What colour is the square?' }] }];

/** A family of the test's own: Idefics3 under another model_type, with its tower and decoder
 *  stored under other prefixes. Nothing outside this file knows it. */
class RenamedIdefics3 extends Idefics3Family {
  override readonly id: string = 'renamed-idefics3';
  override readonly modelTypes = ['renamed_vlm'];
  override readonly visionPrefix = 'model.eyes.';
  override readonly textPrefix = 'model.words.';
}

const fresh = () => mkdtempSync(join(tmpdir(), 'isr-family-'));

describe('a family registered by a test', () => {
  const dirs = { renamed: fresh(), idefics3: fresh() };
  let unregister: () => void;
  let models: { renamed: VideoLanguageModel; idefics3: VideoLanguageModel };

  beforeAll(async () => {
    unregister = registerFamily(new RenamedIdefics3());
    writeFixture(dirs.renamed, { arch: 'renamed-idefics3', size: 'tiny', seed: 4, corpus });
    writeFixture(dirs.idefics3, { arch: 'idefics3', size: 'tiny', seed: 4, corpus });
    models = { renamed: await VideoLanguageModel.load(dirs.renamed), idefics3: await VideoLanguageModel.load(dirs.idefics3) };
  });
  afterAll(async () => {
    await Promise.all(Object.values(models ?? {}).map((m) => m.release()));
    unregister?.();
  });

  it('reads its config by its model_type and names its weights with its own prefixes', () => {
    const config = readModelConfig(dirs.renamed);
    expect(config).toMatchObject({ arch: 'renamed-idefics3', modelType: 'renamed_vlm', scaleFactor: 2 });
    const names = [...expectedWeights(config).keys()];
    expect(names).toContain('model.eyes.encoder.layers.0.self_attn.q_proj.weight');
    expect(names).toContain('model.words.layers.0.self_attn.q_proj.weight');
    expect(names.some((n) => n.startsWith('model.vision_model.') || n.startsWith('model.text_model.'))).toBe(false);
    const stored = openCheckpoint(dirs.renamed);
    expect(stored.names().sort()).toEqual([...names].sort());
    stored.close();
  });

  it('builds the prompt and runs vision and decoder through the shared code, as the family it renames', async () => {
    const { renamed, idefics3 } = models;
    const prompt = renamed.prompt(ask, 2);
    expect(prompt.inputIds).toEqual(idefics3.prompt(ask, 2).inputIds);
    expect(prompt.visualTokens).toBe(2 * prompt.layout!.rows * prompt.layout!.cols);

    const { width, height } = renamed.frameSize;
    const frames = [0, 1].map((f) => Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 7 + f * 91) % 256));
    const features = await renamed.visualFeatures(frames);
    expect(features).toEqual(await idefics3.visualFeatures(frames));

    // Same seed, same shapes in the same order: the same weights under other names, so the same logits.
    const logits = await renamed.logits({ prompt, features });
    expect(logits).toEqual(await idefics3.logits({ prompt: idefics3.prompt(ask, 2), features }));
    expect(logits.every(Number.isFinite)).toBe(true);
  });

  it('refuses a second family with a model_type already taken', () => {
    expect(() => registerFamily(new (class extends RenamedIdefics3 { override readonly id = 'another'; })())).toThrow(
      'family "another" (model_type renamed_vlm) clashes with the registered family "renamed-idefics3"',
    );
  });
});

describe('an unknown family', () => {
  it('fails reading config.json, naming the file, the model_type and the ones the studio runs', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'qwen2_vl' }));
    expect(() => readModelConfig(dir)).toThrow(`${join(dir, 'config.json')}: unsupported model_type "qwen2_vl"; ISR Studio runs "llava_onevision", "idefics3" and "smolvlm"`);
  });

  it('fails by id, and a removed family is unknown again', () => {
    expect(() => familyById('qwen2-vl')).toThrow('no model family "qwen2-vl"; the studio knows "llava-onevision", "idefics3"');
    const dir = fresh();
    const unregister = registerFamily(new RenamedIdefics3());
    writeFixture(dir, { arch: 'renamed-idefics3', size: 'tiny', seed: 1, corpus });
    unregister();
    expect(() => readModelConfig(dir)).toThrow(/unsupported model_type "renamed_vlm"/);
    expect(() => writeFixture(fresh(), { arch: 'renamed-idefics3', size: 'tiny', seed: 1, corpus })).toThrow('no model family "renamed-idefics3"');
  });
});
