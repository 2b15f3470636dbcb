// The registry of model families: config.json's model_type picks the family that reads it, and
// config.arch (the family's id) finds it again for everything after. The one place an unknown
// family fails. Built-in families are registered here; a test may register one of its own.
import { ApiError, shownValue } from '../../../../shared/errors';
import type { ModelConfig } from '../config';
import type { ModelFamily } from './family';
import { Idefics3Family } from './idefics3';
import { LlavaOnevisionFamily } from './llava-onevision';
import { SmolVlmFamily } from './smolvlm';

const builtIn = [new LlavaOnevisionFamily(), new Idefics3Family(), new SmolVlmFamily()];

const families = new Map<string, ModelFamily>(builtIn.map((f) => [f.id, f]));

/** Adds a family (its id and model_types must be new); returns the function that removes it again. */
export function registerFamily(family: ModelFamily): () => void {
  const taken = [...families.values()].find((f) => f.id === family.id || f.modelTypes.some((t) => family.modelTypes.includes(t)));
  if (taken) throw new Error(`family "${family.id}" (model_type ${family.modelTypes.join(', ')}) clashes with the registered family "${taken.id}"`);
  families.set(family.id, family);
  return () => families.delete(family.id);
}

/** The family whose config.json says `modelType`; `file` names the config in the error. */
export function familyForModelType(modelType: unknown, file: string): ModelFamily {
  const family = [...families.values()].find((f) => f.modelTypes.includes(modelType as string));
  if (family) return family;
  const known = [...families.values()].flatMap((f) => f.modelTypes).map((t) => `"${t}"`);
  const given = modelType === undefined ? '"model_type" is missing' : `unsupported model_type ${shownValue(modelType)}`;
  throw new ApiError('bad_input', `${file}: ${given}; ISR Studio runs ${known.slice(0, -1).join(', ')} and ${known[known.length - 1]}`, { file, key: 'model_type' });
}

/** The family of a config read by readModelConfig. */
export function familyOf(config: Pick<ModelConfig, 'arch'>): ModelFamily {
  return familyById(config.arch);
}

export function familyById(id: string): ModelFamily {
  const family = families.get(id);
  if (!family) throw new Error(`no model family "${id}"; the studio knows ${[...families.keys()].map((k) => `"${k}"`).join(', ')}`);
  return family;
}

/** The built-in families the studio can write fixture folders of (fixture.ts, the CLI's --arch). */
export const fixtureFamilyIds: readonly string[] = builtIn.filter((f) => f.fixture !== null).map((f) => f.id);

export { ModelFamily, type FixturePreset } from './family';
export type { Idefics3Config } from './idefics3';
export type { LlavaOnevisionConfig } from './llava-onevision';
