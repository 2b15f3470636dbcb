// A JSON object file from a folder a user brings (a model folder's config.json, tokenizer.json,
// tokenizer_config.json, preprocessor_config.json, chat_template.json; a PEFT adapter's
// adapter_config.json and job marker): data from anywhere, so every way it fails is one line naming
// the file, with no excerpt of its text (JSON.parse quotes it, newlines and all).
import { readFileSync } from 'node:fs';
import { ApiError, fileProblem, jsonProblem } from '../../../shared/errors';

export function readJsonObject(file: string, what = 'model file'): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ApiError('bad_input', fileProblem(err, what, file), { file });
  }
  let value: unknown;
  try {
    // A byte-order mark, as some Windows editors write (dataset and run settings files accept one too).
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ApiError('bad_input', `${file} is not valid JSON: ${jsonProblem(err)}`, { file });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError('bad_input', `${file} must hold a JSON object, not ${value === null ? 'null' : Array.isArray(value) ? 'a list' : `a ${typeof value}`}`, { file });
  }
  return value as Record<string, unknown>;
}
