// A run's settings, validated before anything starts: every field named in the message when it is
// wrong. The schema, its defaults and each field's TRL/PEFT name are declared once, in
// src/shared/run-settings.ts; this is the run's door to it.
import { ApiError } from '../../shared/errors';
import { describeIssues, fieldIssues } from '../../shared/field-issues';
import { runSettingsSchema, type RunSettings } from '../../shared/run-settings';

export { runSettingsDefaults, runSettingsSchema, type RunSettings, type RunSettingsInput } from '../../shared/run-settings';

/** Parses settings (a config file's JSON, a stored run's, or {}), naming every bad field; the
 *  error's details are the issues by path. */
export function parseRunSettings(input: unknown, source = 'settings'): RunSettings {
  const parsed = runSettingsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issues = fieldIssues(parsed.error, '(settings)');
    throw new ApiError('invalid_argument', `${source}: ${describeIssues(issues)}`, issues);
  }
  return parsed.data;
}
