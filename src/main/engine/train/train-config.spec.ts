import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../model/config';
import { checkTraining, defaultTrainConfig, totalSteps, type TrainConfig } from './train-config';

const config = {} as ModelConfig; // read only when the projector is trained (trainer.spec.ts covers that)
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
});
