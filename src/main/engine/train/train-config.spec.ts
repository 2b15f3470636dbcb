import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../model/config';
import { writeFixture } from '../model/fixture';
import { checkLoraTargets, decoderLinearModules } from './lora';
import { checkTraining, defaultTrainConfig, totalSteps, type TrainConfig } from './train-config';

let config: ModelConfig;
beforeAll(() => {
  ({ config } = writeFixture(mkdtempSync(join(tmpdir(), 'isr-train-config-')), { arch: 'llava-onevision', size: 'tiny', seed: 1, corpus: ['a red square'] }));
});
const pair = { prompt: [1], chosen: [2], rejected: [3] };
const settings = (over: Partial<TrainConfig> = {}): TrainConfig => ({ ...defaultTrainConfig, ...over });

describe('training settings', () => {
  it('counts updates as epochs x ceil(examples / (batch x accumulation))', () => {
    expect(totalSteps(settings({ epochs: 3, batchSize: 2, gradientAccumulation: 2 }), 9)).toBe(9);
    expect(totalSteps(settings({ epochs: 1, batchSize: 4, gradientAccumulation: 1 }), 8)).toBe(2);
  });

  it('accepts sound settings, with no projector frames when the projector is frozen', () => {
    expect(checkTraining(config, [pair], settings())).toBe(0);
    expect(checkTraining(config, [{ prompt: [1], chosen: [2] }], settings({ loss: 'sft' }))).toBe(0);
  });

  it('names the setting or example that cannot train', () => {
    expect(() => checkTraining(config, [pair], settings({ lr: 0 }))).toThrow('training settings: lr must be > 0, got 0');
    expect(() => checkTraining(config, [pair], settings({ batchSize: 1.5 }))).toThrow('batchSize must be a whole number >= 1, got 1.5');
    expect(() => checkTraining(config, [pair], settings({ lora: { ...defaultTrainConfig.lora, r: 0 } }))).toThrow('lora r must be a whole number >= 1, got 0');
    expect(() => checkTraining(config, [pair, { ...pair, chosen: [] }], settings())).toThrow('example 2 has an empty chosen response');
  });

  it('refuses an example longer than max_length or the model\'s positions (the callers fit them first)', () => {
    const long = { prompt: [1, 2, 3], chosen: [4, 5, 6], rejected: [7] };
    expect(checkTraining(config, [long], settings({ maxLength: 6 }))).toBe(0);
    expect(() => checkTraining(config, [long], settings({ maxLength: 5 }))).toThrow('example 1 is 6 tokens, over the limit of 5');
    const beyond = { ...long, chosen: Array<number>(config.text.maxPositionEmbeddings).fill(4) };
    expect(() => checkTraining(config, [beyond], settings({ maxLength: null }))).toThrow(`over the limit of ${config.text.maxPositionEmbeddings}`);
  });

  it('refuses LoRA targets that adapt nothing, naming them and the layers there are', () => {
    expect(() => checkTraining(config, [pair], settings({ lora: { ...defaultTrainConfig.lora, targets: ['q_proj', 'bogus_proj'] } }))).toThrow(
      'training settings: LoRA target "bogus_proj" matches no linear layer of the model (its layers have q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)',
    );
  });
});

describe('LoRA targets against the decoder', () => {
  it("lists the decoder's linear layers under PEFT's names, every layer's seven", () => {
    const modules = decoderLinearModules(config);
    expect(modules).toHaveLength(7 * config.text.numLayers);
    expect(modules.slice(0, 7)).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((m) => `model.layers.0.self_attn.${m}`).concat(['gate_proj', 'up_proj', 'down_proj'].map((m) => `model.layers.0.mlp.${m}`)));
  });

  it('accepts lists and regexes that match, as PEFT matches them, and refuses those that match nothing', () => {
    const modules = decoderLinearModules(config);
    expect(() => checkLoraTargets(['q_proj', 'self_attn.v_proj'], modules, 'x')).not.toThrow();
    expect(() => checkLoraTargets('.*layers\\.0\\..*_proj', modules, 'x')).not.toThrow();
    expect(() => checkLoraTargets('.*vision.*', modules, 'x')).toThrow('x: LoRA targets ".*vision.*" match no linear layer');
    expect(() => checkLoraTargets('([', modules, 'x')).toThrow('is not a valid regular expression');
    expect(() => checkLoraTargets([], modules, 'x')).toThrow('x: LoRA targets are empty');
    expect(() => checkLoraTargets(['bogus_proj', 'proj'], modules, 'x')).toThrow('x: LoRA targets "bogus_proj", "proj" match no linear layer');
  });
});
