// Run settings (issue 23), as a --config file or the object the Rounds screen sends: unknown keys,
// wrong types, values out of range, a BOM, loraTargets that match no module, more frames than
// max_length holds; each with whether it must be refused and what the refusal must name.
import { runSettingFields } from '../../src/shared/run-settings';
import type { Mention } from './oracle';
import type { FuzzRng } from './rng';

export interface SettingsCase {
  description: string;
  /** The settings as JSON text (a file's) and as a value (what the API is sent; null when the text is no JSON object). */
  text: string;
  value: Record<string, unknown> | null;
  /** true: must be refused; 'maybe': either (a value that may happen to be in range). */
  refused: boolean | 'maybe';
  names: Mention[];
}

type Json = Record<string, unknown>;

/** Small settings a run on the tiny fixture takes (short responses, few frames). */
function validBase(rng: FuzzRng): Json {
  const base: Json = { samples: 2, maxNewTokens: rng.int(4, 16), contextTokens: 8, frames: rng.int(1, 4), train: { epochs: 1, batchSize: 1, loraR: 4, loraAlpha: 8 } };
  if (rng.chance(0.3)) base.tieBand = [0.4, 0.6];
  if (rng.chance(0.3)) base.evaluation = { maxNewTokens: 6 };
  return base;
}

function setAt(obj: Json, path: readonly string[], value: unknown): void {
  let at = obj;
  for (const key of path.slice(0, -1)) at = (at[key] ??= {}) as Json;
  if (value === undefined) delete at[path.at(-1)!];
  else at[path.at(-1)!] = value;
}

/** A value the field's bounds refuse, or of the wrong type. */
function outOfRange(rng: FuzzRng, field: (typeof runSettingFields)[number]): [string, unknown] {
  const c = field.control;
  if (c.kind === 'number') {
    const options: [string, unknown][] = [['a string', String(field.default)], ['null', null], ['a list', [1]], ['true', true]];
    if (c.min !== undefined) options.push(['below min', c.min - (c.integer ? 1 : 0.5)]);
    if (c.max !== undefined) options.push(['above max', c.max + (c.integer ? 1 : 0.5)], ['1e308', 1e308]);
    if (c.integer) options.push(['a fraction', (c.min ?? 1) + 0.5]);
    if (c.min === undefined) options.push(['-1', -1], ['0 where above 0 is asked', 0]);
    return rng.pick(options);
  }
  if (c.kind === 'choice') return rng.pick<[string, unknown]>([['an unknown choice', 'bogus'], ['a number', 1], ['null', null], ['another case', String(field.default).toUpperCase()]]);
  if (c.kind === 'range') return rng.pick<[string, unknown]>([['reversed', [0.6, 0.4]], ['one end', [0.5]], ['below 0', [-0.1, 0.5]], ['above 1', [0.4, 1.1]], ['a string', '0.4-0.6'], ['three ends', [0.1, 0.2, 0.3]]]);
  if (c.kind === 'list') return rng.pick<[string, unknown]>([['empty', []], ['an empty name', ['']], ['a string', 'q_proj'], ['numbers', [1, 2]]]);
  return rng.pick<[string, unknown]>([['a string', 'yes'], ['a number', 1], ['null', null]]);
}

export function settingsCase(rng: FuzzRng): SettingsCase {
  const value = validBase(rng);
  const r = rng.next();
  let description: string;
  let refused: boolean | 'maybe' = true;
  let names: Mention[];
  if (r < 0.4) {
    const field = rng.pick(runSettingFields);
    const [label, bad] = outOfRange(rng, field);
    setAt(value, field.path, bad);
    description = `${field.key} ${label}: ${JSON.stringify(bad)}`;
    // 0.5 above an inclusive max of a float is out; a default's uppercase may be itself ("none" is not).
    names = [[field.key, field.path.at(-1)!]];
  } else if (r < 0.55) {
    const where = rng.pick([[], ['train'], ['evaluation']] as const);
    const key = rng.pick(['trian', 'learningRate', 'Samples', 'lora_r', 'extra', 'beta ', '']);
    setAt(value, [...where, key], rng.pick([1, 'x', null, {}]));
    description = `an unknown key ${JSON.stringify(key)} ${where.length ? `in ${where[0]}` : 'at the top'}`;
    names = [[JSON.stringify(key), key === '' ? '""' : key]];
  } else if (r < 0.7) {
    const targets = rng.pick([['nomatch'], ['q_proj', 'zzz'], ['Q_PROJ'], ['q'], ['self_attn'], ['lm_head'], ['vision_model.q_proj']]);
    setAt(value, ['train', 'loraTargets'], targets);
    description = `train.loraTargets ${JSON.stringify(targets)}`;
    names = [['loraTargets', ...targets]];
  } else if (r < 0.85) {
    const frames = rng.int(16, 64);
    const maxLength = rng.int(16, 64);
    setAt(value, ['frames'], frames);
    setAt(value, ['train', 'maxLength'], maxLength);
    description = `${frames} frames with train.maxLength ${maxLength}`;
    names = ['frames', [`maxLength ${maxLength}`, 'max_position_embeddings']];
  } else {
    // A value in range: accepted, or (where the model or another setting disagrees) refused naming its field.
    const field = rng.pick(runSettingFields.filter((f) => f.control.kind === 'number'));
    const c = field.control as { min?: number; max?: number; integer: boolean };
    const v = c.integer ? rng.int(c.min ?? 0, Math.min(c.max ?? 100, 100)) : (c.min ?? 0) + rng.next() * ((c.max ?? 2) - (c.min ?? 0));
    setAt(value, field.path, v);
    description = `${field.key} ${v} (in range)`;
    refused = 'maybe';
    names = [[field.key, field.path.at(-1)!, 'frames', 'maxLength', 'max_position_embeddings']];
  }
  return { description, text: JSON.stringify(value, null, rng.chance(0.5) ? 2 : 0), value, refused, names };
}

/** --config files that are no settings object: JSON broken, not an object, empty, a BOM before it. */
export function settingsFileCases(): { description: string; text: Buffer; names: Mention[]; refused: boolean }[] {
  const good = JSON.stringify({ samples: 2, frames: 2 });
  return [
    { description: 'a BOM before good settings', text: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(good)]), names: [], refused: false },
    { description: 'a BOM before a bad value', text: Buffer.from(`\ufeff${JSON.stringify({ samples: 3 })}`), names: ['samples'], refused: true },
    { description: 'cut short', text: Buffer.from(good.slice(0, 9)), names: [], refused: true },
    { description: 'a list', text: Buffer.from('[1, 2]'), names: [], refused: true },
    { description: 'empty', text: Buffer.from(''), names: [], refused: true },
    { description: 'null', text: Buffer.from('null'), names: [], refused: true },
    { description: 'a password file', text: Buffer.from('root:x:0:0:root:/root:/bin/bash\nsecret:hunter2\n'), names: [], refused: true },
    { description: 'JSON with comments', text: Buffer.from('{\n  // frames\n  "frames": 2\n}'), names: [], refused: true },
    { description: 'a __proto__ key', text: Buffer.from('{"__proto__": {"samples": 3}, "frames": 2}'), names: ['__proto__'], refused: true },
    { description: 'not UTF-8', text: Buffer.concat([Buffer.from('{"review": "n'), Buffer.from([0xff]), Buffer.from('ne"}')]), names: ['review'], refused: true },
  ];
}
