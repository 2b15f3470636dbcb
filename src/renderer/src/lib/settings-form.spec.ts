import { describe, expect, it } from 'vitest';
import { runSettingsDefaults, runSettingsSchema } from '../../../shared/run-settings';
import { placeIssues, settingInputs, settingsOf } from './settings-form';

describe('the run settings form state', () => {
  it('starts every input at its default and stands for the default settings', () => {
    const inputs = settingInputs();
    expect(inputs['train.loraTargets']).toBe('q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj');
    expect(inputs.tieBand).toEqual([0.45, 0.55]);
    expect(runSettingsSchema.parse(settingsOf(inputs))).toEqual(runSettingsDefaults);
  });

  it('takes given values by key, edits lists as comma-separated text, and never shares a default', () => {
    const inputs = settingInputs({ frames: 4, 'train.loraTargets': ['q_proj'] });
    expect([inputs.frames, inputs['train.loraTargets']]).toEqual([4, 'q_proj']);
    inputs['train.loraTargets'] = ' q_proj, v_proj ,';
    (inputs.tieBand as [number, number])[0] = 0.5;
    expect(settingsOf(inputs)).toMatchObject({ frames: 4, tieBand: [0.5, 0.55], train: { loraTargets: ['q_proj', 'v_proj'] } });
    expect(settingInputs().tieBand).toEqual([0.45, 0.55]);
  });

  it("puts each issue of a request beside the control it names, and keeps the rest apart", () => {
    const placed = placeIssues(
      [
        { path: ['settings', 'tieBand', 1], field: 'settings.tieBand.1', message: 'Too big' },
        { path: ['settings', 'train', 'beta'], field: 'settings.train.beta', message: 'Too small' },
        { path: ['rounds'], field: 'rounds', message: 'Too big: 100 at most' },
        { path: ['settings', 'train'], field: 'settings.train', message: 'Unrecognized key: "betta"' },
      ],
      ['model', 'rounds'],
    );
    expect(placed.byKey).toEqual({ tieBand: 'Too big', 'train.beta': 'Too small', rounds: 'Too big: 100 at most' });
    expect(placed.unplaced.map((i) => i.field)).toEqual(['settings.train']);
  });
});
