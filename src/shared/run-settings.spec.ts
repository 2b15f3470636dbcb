import { describe, expect, it } from 'vitest';
import { describeIssues, fieldIssues } from './field-issues';
import { runSettingFields, runSettingGroups, runSettingsDefaults, runSettingsSchema, settingFieldAt, settingsFromFields } from './run-settings';

/** Leaf paths of a settings object: arrays and the scorer's object count as one value. */
function leaves(value: Record<string, unknown>, path: string[] = []): string[] {
  return Object.entries(value).flatMap(([key, v]) =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && key !== 'scorer' ? leaves(v as Record<string, unknown>, [...path, key]) : [[...path, key].join('.')],
  );
}

describe('run settings, declared once', () => {
  it('keeps the defaults a run has always had', () => {
    expect(runSettingsDefaults).toEqual({
      samples: 2, temperature: 0.7, topP: 0.9, maxNewTokens: 48, contextTokens: 96, frames: 8, tieBand: [0.45, 0.55], review: 'none', seed: 0,
      train: {
        loss: 'sigmoid', beta: 0.1, lr: 5e-4, epochs: 3, batchSize: 2, sftWeight: 0, lengthPenalty: 0, loraR: 16, loraAlpha: 32,
        loraTargets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], maxLength: 2048, trainProjector: false, trainEmbeddings: false,
      },
      evaluation: { maxNewTokens: 32, scorer: { kind: 'exact' } },
      outside: { responses: false, training: false },
    });
  });

  it('describes every setting but the scorer for a form, in groups, each with its default', () => {
    expect(runSettingGroups.map((g) => g.label)).toEqual(['Sampling and judging', 'DPO training', 'Evaluation', 'Outside the studio']);
    expect(runSettingFields.map((f) => f.key)).toEqual(leaves(runSettingsDefaults).filter((k) => k !== 'evaluation.scorer'));
    for (const field of runSettingFields) {
      expect(field.default).toEqual(field.path.reduce<unknown>((v, key) => (v as Record<string, unknown>)[key], runSettingsDefaults));
      expect(field.label.length * field.help.length).toBeGreaterThan(0);
    }
    expect(new Set(runSettingFields.map((f) => f.label)).size).toBe(runSettingFields.length);
  });

  it("uses TRL's names and values for the DPO settings and PEFT's for LoRA", () => {
    const upstream = Object.fromEntries(runSettingFields.map((f) => [f.key, f.upstream]));
    expect(upstream).toMatchObject({
      'train.loss': 'DPOConfig.loss_type', 'train.beta': 'DPOConfig.beta', 'train.lr': 'DPOConfig.learning_rate', 'train.epochs': 'DPOConfig.num_train_epochs',
      'train.batchSize': 'DPOConfig.per_device_train_batch_size', 'train.sftWeight': 'DPOConfig.rpo_alpha',
      'train.loraR': 'LoraConfig.r', 'train.loraAlpha': 'LoraConfig.lora_alpha', 'train.loraTargets': 'LoraConfig.target_modules',
      'train.maxLength': 'DPOConfig.max_length',
    });
    expect(runSettingFields.find((f) => f.key === 'train.loss')?.control).toEqual({ kind: 'choice', values: ['sigmoid', 'ipo', 'hinge', 'robust'] });
    expect(runSettingsSchema.safeParse({ train: { loss: 'dpo' } }).success).toBe(false);
  });

  it("declares each number's bounds once: what the form is told is what validation accepts", () => {
    const at = (field: (typeof runSettingFields)[number], value: unknown) => runSettingsSchema.safeParse(settingsFromFields({ [field.key]: value })).success;
    const numbers = runSettingFields.filter((f) => f.control.kind === 'number');
    expect(numbers.length).toBeGreaterThan(10);
    for (const field of numbers) {
      if (field.control.kind !== 'number') continue;
      const { min, max, integer } = field.control;
      if (min !== undefined) expect([field.key, at(field, min), at(field, min - 1)]).toEqual([field.key, true, false]);
      if (max !== undefined) expect([field.key, at(field, max), at(field, max + 1)]).toEqual([field.key, true, false]);
      if (integer) expect([field.key, at(field, (field.default as number) + 0.5)]).toEqual([field.key, false]);
    }
    const band = runSettingFields.find((f) => f.key === 'tieBand')!;
    expect([at(band, [0, 1]), at(band, [-0.1, 0.5]), at(band, [0.6, 0.4])]).toEqual([true, false, false]);
  });

  it('names each issue by path, and finds the field an issue is about', () => {
    const parsed = runSettingsSchema.safeParse({ samples: 3, tieBand: [0.5, 2], train: { beta: 0 } });
    const issues = fieldIssues(parsed.error!, '(settings)');
    expect(issues.map((i) => i.path)).toEqual([['samples'], ['tieBand', 1], ['train', 'beta']]);
    expect(describeIssues(issues)).toBe('samples: must be even: samples are judged in pairs; tieBand.1: Too big: expected number to be <=1; train.beta: Too small: expected number to be >0');
    expect(issues.map((i) => settingFieldAt(i.path)?.key)).toEqual(['samples', 'tieBand', 'train.beta']);
    expect(settingFieldAt(['train'])).toBeUndefined();
    expect(fieldIssues(runSettingsSchema.safeParse({ extra: 1 }).error!, '(settings)').map((i) => i.field)).toEqual(['(settings)']);
  });

  it('nests values given by field key into settings', () => {
    expect(settingsFromFields({ samples: 4, 'train.beta': 0.2, 'evaluation.maxNewTokens': 8 })).toEqual({ samples: 4, train: { beta: 0.2 }, evaluation: { maxNewTokens: 8 } });
    expect(settingsFromFields({ 'not.a.field': 1 })).toEqual({});
  });
});
