import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/errors';
import { runSettingFields } from '../../shared/run-settings';
import { parseRunSettings, runSettingsDefaults } from './settings';

describe('parseRunSettings', () => {
  it('fills in the defaults', () => {
    expect(parseRunSettings(undefined)).toEqual(runSettingsDefaults);
    expect(parseRunSettings({ train: { beta: 0.2 } }).train).toEqual({ ...runSettingsDefaults.train, beta: 0.2 });
  });

  it('names every bad field in its message, and gives each as a path and a message', () => {
    let thrown: unknown;
    try {
      parseRunSettings({ samples: 1, train: { beta: -1 }, colour: 'red' }, 'bad.json');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ApiError);
    const err = thrown as ApiError;
    expect(err.code).toBe('invalid_argument');
    expect(err.message).toBe(
      'bad.json: samples: Too small: expected number to be >=2; samples: must be even: samples are judged in pairs; train.beta: Too small: expected number to be >0; (settings): Unrecognized key: "colour"',
    );
    expect(err.details).toEqual([
      { path: ['samples'], field: 'samples', message: 'Too small: expected number to be >=2' },
      { path: ['samples'], field: 'samples', message: 'must be even: samples are judged in pairs' },
      { path: ['train', 'beta'], field: 'train.beta', message: 'Too small: expected number to be >0' },
      { path: [], field: '(settings)', message: 'Unrecognized key: "colour"' },
    ]);
  });
});

describe('the settings and the rest of the project', () => {
  it("docs/method.md lists every setting with its default and TRL/PEFT name", () => {
    const docs = readFileSync(new URL('../../../docs/method.md', import.meta.url), 'utf8');
    const rows = new Map(docs.split('\n').filter((line) => line.startsWith('| `')).map((line) => {
      const cells = line.split('|').slice(1, -1).map((c) => c.trim().replaceAll('`', ''));
      return [cells[0], [cells[1], cells[3]]];
    }));
    for (const field of runSettingFields) {
      expect([field.key, rows.get(field.key)]).toEqual([field.key, [JSON.stringify(field.default), field.upstream ?? "(ISR's own)"]]);
    }
  });
});
