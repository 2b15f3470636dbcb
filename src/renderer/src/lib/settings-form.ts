// The Rounds form's run settings: one input per field of the shared schema, what those inputs
// stand for, and where a validation issue belongs in the form.
import type { FieldIssue } from '../../../shared/field-issues';
import { runSettingFields, settingFieldAt, settingsFromFields, type RunSettingsInput, type SettingField } from '../../../shared/run-settings';

/** What a field's input holds: its value, except a list, which is edited as comma-separated text. */
export type SettingInput = number | string | boolean | [number, number];
/** The inputs by field key ('train.beta'). */
export type SettingInputs = Record<string, SettingInput>;

const inputOf = (field: SettingField, value: unknown): SettingInput =>
  field.control.kind === 'list' ? (value as string[]).join(',') : (structuredClone(value) as SettingInput);

const valueOf = (field: SettingField, input: SettingInput): unknown =>
  field.control.kind === 'list' ? String(input).split(',').map((t) => t.trim()).filter(Boolean) : input;

/** Every field's input at its default, or at the value given for it by key. */
export function settingInputs(values: Readonly<Record<string, unknown>> = {}): SettingInputs {
  return Object.fromEntries(runSettingFields.map((f) => [f.key, inputOf(f, f.key in values ? values[f.key] : f.default)]));
}

export function settingsOf(inputs: Readonly<SettingInputs>): RunSettingsInput {
  return settingsFromFields(Object.fromEntries(runSettingFields.map((f) => [f.key, valueOf(f, inputs[f.key])])));
}

/**
 * Where each issue of a startRun request goes: by the key of the form control it names (a setting's
 * key, or one of `runKeys` for the request's own fields), or, when it names none, to `unplaced`.
 */
export function placeIssues(issues: readonly FieldIssue[], runKeys: readonly string[]): { byKey: Record<string, string>; unplaced: FieldIssue[] } {
  const byKey: Record<string, string> = {};
  const unplaced: FieldIssue[] = [];
  for (const issue of issues) {
    const [head, ...rest] = issue.path;
    const key = head === 'settings' ? settingFieldAt(rest)?.key : runKeys.find((k) => k === head);
    if (key === undefined) unplaced.push(issue);
    else byKey[key] ??= issue.message;
  }
  return { byKey, unplaced };
}
