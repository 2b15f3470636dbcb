// LoRA adapters as PEFT defines, initialises and saves them, so a round's adapter loads in PEFT and
// a PEFT adapter loads here.
// - peft/tuners/lora/layer.py (LoraLayer.update_layer, reset_lora_parameters): lora_A is an
//   nn.Linear(in, r) initialised kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in));
//   lora_B is zeros, so a fresh adapter changes nothing; scaling = lora_alpha / r (alpha / sqrt(r)
//   with use_rslora); the delta weight is scaling * B @ A in torch's [out, in] layout.
// - peft/utils/save_and_load.py (get_peft_model_state_dict): saved keys are
//   `base_model.model.<module path>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r], the adapter
//   name removed; peft_model.py save_pretrained writes them to adapter_model.safetensors with
//   metadata {"format": "pt"} and the config with inference_mode set to true.
// - peft/config.py (PeftConfigMixin.save_pretrained): adapter_config.json is
//   json.dumps(to_dict(), indent=2, sort_keys=True); the fields below are LoraConfig's as of PEFT
//   0.17 (runtime_config is dropped on save). Older PEFT versions ignore the fields they lack.
// The graph holds the factors in MatMul layout (A [in, r], B [r, out], nn.ts linear), the
// transposes of PEFT's.
import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../../shared/errors';
import { runSettingsDefaults } from '../../../shared/run-settings';
import type { Rng } from '../generate/sampling';
import { SafetensorsFile, writeAtomically, writeSafetensors, type TensorToWrite } from '../graph/safetensors';
import type { ModelConfig } from '../model/config';
import { textWeightNames } from '../model/decoder';
import { expectedWeights, transpose } from '../model/weights';
import type { HostTensor } from './state';
import { readJsonObject } from '../model/json-file';

export interface LoraConfig {
  r: number;
  alpha: number;
  /** PEFT's lora_dropout; recorded in the adapter, but training here supports 0 only. */
  dropout: number;
  /** Module names matched as PEFT does: a list (exact name or `.name` suffix) or one regex (full match). */
  targets: readonly string[] | string;
  useRslora?: boolean;
}

/** A run's LoRA defaults (src/shared/run-settings.ts), without dropout. */
export const defaultLoraConfig: LoraConfig = {
  r: runSettingsDefaults.train.loraR, alpha: runSettingsDefaults.train.loraAlpha, dropout: 0, targets: runSettingsDefaults.train.loraTargets,
};

export const loraScale = (c: LoraConfig): number => (c.useRslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r);

/** PEFT's check_target_module_exists for a list or a regex target_modules. */
export function isLoraTarget(module: string, targets: LoraConfig['targets']): boolean {
  if (typeof targets === 'string') return new RegExp(`^(?:${targets})$`).test(module);
  return targets.some((t) => module === t || module.endsWith(`.${t}`));
}

/** The decoder's linear layers as PEFT names them, relative to the text model
 *  ('model.layers.0.self_attn.q_proj'): what LoRA targets can match. */
export function decoderLinearModules(config: ModelConfig): string[] {
  const { prefix } = textWeightNames(config);
  return [...expectedWeights(config)]
    .filter(([name, shape]) => name.startsWith(`${prefix}layers.`) && name.endsWith('.weight') && shape.length === 2)
    .map(([name]) => `model.${name.slice(prefix.length, -'.weight'.length)}`);
}

/**
 * Refuses targets that adapt nothing, before anything runs: PEFT fails only when no module at all
 * matches, but a name matching none (a typo beside q_proj) is never what a user meant, so each
 * name of a list must match, and a regex must compile and match.
 */
export function checkLoraTargets(targets: LoraConfig['targets'], modules: readonly string[], where: string): void {
  const names = [...new Set(modules.map((m) => m.slice(m.lastIndexOf('.') + 1)))].join(', ');
  if (typeof targets === 'string') {
    try {
      new RegExp(targets);
    } catch {
      throw new ApiError('invalid_argument', `${where}: LoRA targets ${JSON.stringify(targets)} is not a valid regular expression`);
    }
    if (!modules.some((m) => isLoraTarget(m, targets))) throw new ApiError('invalid_argument', `${where}: LoRA targets ${JSON.stringify(targets)} match no linear layer of the model (its layers have ${names})`);
    return;
  }
  if (targets.length === 0) throw new ApiError('invalid_argument', `${where}: LoRA targets are empty (the model's layers have ${names})`);
  const unmatched = targets.filter((t) => !modules.some((m) => isLoraTarget(m, [t])));
  if (unmatched.length > 0) throw new ApiError('invalid_argument', `${where}: LoRA target${unmatched.length === 1 ? '' : 's'} ${unmatched.map((t) => JSON.stringify(t)).join(', ')} match${unmatched.length === 1 ? 'es' : ''} no linear layer of the model (its layers have ${names})`);
}

/** An adapted linear layer: its module path relative to the text model and its sizes. */
export interface LoraModule {
  module: string;
  inFeatures: number;
  outFeatures: number;
}

/** Factors in MatMul layout: a [in, r], b [r, out]. */
export interface LoraFactors {
  a: HostTensor;
  b: HostTensor;
}

/** The graph input names of a module's factors. */
export const loraInputNames = (module: string): { a: string; b: string } => ({ a: `${module}.lora_A`, b: `${module}.lora_B` });

/** PEFT's default init: A ~ U(-1/sqrt(in), 1/sqrt(in)) drawn in torch's [r, in] order, B = 0. */
export function initLora(rng: Rng, m: LoraModule, r: number): LoraFactors {
  const bound = 1 / Math.sqrt(m.inFeatures);
  const torchA = Float32Array.from({ length: r * m.inFeatures }, () => (2 * rng.next() - 1) * bound);
  return {
    a: { dims: [m.inFeatures, r], data: transpose(torchA, r, m.inFeatures) },
    b: { dims: [r, m.outFeatures], data: new Float32Array(r * m.outFeatures) },
  };
}

/**
 * The keys PEFT saves for a module. `textModelPrefix` turns the path relative to the text model into
 * the base model's full module path: '' for a plain causal LM, 'language_model.' for LLaVA-OneVision
 * as transformers < 5 names it (base_model.model.language_model.model.layers.0.self_attn.q_proj...).
 */
export const peftKeys = (module: string, textModelPrefix: string): { a: string; b: string } => ({
  a: `base_model.model.${textModelPrefix}${module}.lora_A.weight`,
  b: `base_model.model.${textModelPrefix}${module}.lora_B.weight`,
});

export interface Adapter {
  config: LoraConfig;
  /** By module path relative to the text model. */
  factors: ReadonlyMap<string, LoraFactors>;
  baseModel: string | null;
  /** PEFT's task_type; null when the base model class is not a task PEFT names. */
  taskType: string | null;
  /** Whole modules trained beside the adapters (PEFT's modules_to_save, e.g. the projector), and
   *  their parameters by full checkpoint name in torch layout. */
  modulesToSave?: { modules: string[]; tensors: ReadonlyMap<string, HostTensor> };
}

export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
export const ADAPTER_CONFIG = 'adapter_config.json';

/** Writes adapter_model.safetensors (F32, PEFT layout) and adapter_config.json as PEFT does. */
export function writeAdapter(dir: string, adapter: Adapter, textModelPrefix: string): void {
  const { config } = adapter;
  const tensors: Record<string, TensorToWrite> = {};
  for (const [module, { a, b }] of adapter.factors) {
    const [inF, r] = a.dims;
    const [rb, outF] = b.dims;
    if (r !== config.r || rb !== config.r) throw new Error(`writeAdapter: ${module} has rank ${r}/${rb}, the config says ${config.r}`);
    const keys = peftKeys(module, textModelPrefix);
    tensors[keys.a] = { dtype: 'F32', shape: [r, inF], data: transpose(a.data, inF, r) };
    tensors[keys.b] = { dtype: 'F32', shape: [outF, r], data: transpose(b.data, r, outF) };
  }
  // PEFT saves a modules_to_save parameter under the base model's own name (get_peft_model_state_dict
  // strips "modules_to_save." and the adapter name).
  for (const [name, t] of adapter.modulesToSave?.tensors ?? []) tensors[`base_model.model.${name}`] = { dtype: 'F32', shape: t.dims, data: t.data };
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, ADAPTER_WEIGHTS), tensors, { format: 'pt' });
  writeAtomically(path.join(dir, ADAPTER_CONFIG), [Buffer.from(pythonJson(peftConfig(adapter)), 'utf8')]);
}

function peftConfig(adapter: Adapter): Record<string, unknown> {
  const c = adapter.config;
  return {
    alpha_pattern: {}, auto_mapping: null, base_model_name_or_path: adapter.baseModel, bias: 'none', corda_config: null,
    eva_config: null, exclude_modules: null, fan_in_fan_out: false, inference_mode: true, init_lora_weights: true,
    layer_replication: null, layers_pattern: null, layers_to_transform: null, loftq_config: {}, lora_alpha: c.alpha,
    lora_bias: false, lora_dropout: c.dropout, megatron_config: null, megatron_core: 'megatron.core', modules_to_save: adapter.modulesToSave?.modules ?? null,
    peft_type: 'LORA', qalora_group_size: 16, r: c.r, rank_pattern: {}, revision: null,
    target_modules: typeof c.targets === 'string' ? c.targets : [...new Set(c.targets)], target_parameters: null,
    task_type: adapter.taskType, trainable_token_indices: null, use_dora: false, use_qalora: false, use_rslora: c.useRslora ?? false,
  };
}

// Fields that change what the adapter computes and that this loader does not implement.
const unsupported: Record<string, (v: unknown) => boolean> = {
  use_dora: (v) => v === true,
  fan_in_fan_out: (v) => v === true,
  bias: (v) => v !== undefined && v !== 'none',
  lora_bias: (v) => v === true,
  rank_pattern: (v) => v !== undefined && v !== null && Object.keys(v as object).length > 0,
  alpha_pattern: (v) => v !== undefined && v !== null && Object.keys(v as object).length > 0,
  layer_replication: (v) => v !== undefined && v !== null,
};

/**
 * Reads a PEFT LoRA adapter folder; factors come back in MatMul layout, keyed by text-model module
 * path. `canonicalName` maps a checkpoint name of another layout the model's family comes in to the
 * layout the prefix is in (an adapter PEFT saved from transformers 5's LLaVA-OneVision names its
 * modules model.language_model.layers..., the checkpoint language_model.model.layers...).
 */
export function readAdapter(dir: string, textModelPrefix: string, canonicalName: (name: string) => string = (name) => name): Adapter {
  const configFile = path.join(dir, ADAPTER_CONFIG);
  const raw = readJsonObject(configFile, 'adapter config');
  const bad = (what: string) => new ApiError('bad_input', `adapter config ${configFile}: ${what}`, { file: configFile });
  if (raw.peft_type !== 'LORA') throw bad(`peft_type is ${JSON.stringify(raw.peft_type)}, not "LORA"`);
  for (const [field, rejects] of Object.entries(unsupported)) if (rejects(raw[field])) throw bad(`${field} = ${JSON.stringify(raw[field])} is not supported`);
  const num = (field: string, fallback?: number): number => {
    const v = raw[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${field} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const targets = raw.target_modules;
  if (!(typeof targets === 'string' || (Array.isArray(targets) && targets.every((t) => typeof t === 'string')))) {
    throw bad(`target_modules must be a list of names or a regex, got ${JSON.stringify(targets)}`);
  }
  // Absent fields take LoraConfig's defaults (r 8, lora_alpha 8, lora_dropout 0).
  const config: LoraConfig = {
    r: num('r', 8), alpha: num('lora_alpha', 8), dropout: num('lora_dropout', 0), targets: targets as string[] | string, useRslora: raw.use_rslora === true,
  };

  const file = SafetensorsFile.open(path.join(dir, ADAPTER_WEIGHTS));
  try {
    const head = `base_model.model.${textModelPrefix}`;
    const found = new Map<string, { a?: string; b?: string }>();
    const modules = Array.isArray(raw.modules_to_save) ? (raw.modules_to_save as string[]) : [];
    const saved = new Map<string, HostTensor>();
    for (const key of file.names()) {
      const m = /^(.*)\.lora_([AB])\.weight$/.exec(key);
      const name = canonicalName(key.replace(/^base_model\.model\./, ''));
      if (m === null && modules.some((mod) => name === mod || name.startsWith(`${mod}.`) || name.includes(`.${mod}.`))) {
        saved.set(name, { dims: file.info(key).shape, data: file.readAsFloat32(key) });
        continue;
      }
      const path = m === null || !m[1].startsWith('base_model.model.') ? null : `base_model.model.${canonicalName(`${m[1].slice('base_model.model.'.length)}.weight`).slice(0, -'.weight'.length)}`;
      if (m === null || path === null || !path.startsWith(head)) throw new ApiError('bad_input', `${file.path}: '${key}' is not a LoRA factor under '${head}'`, { file: file.path, tensor: key });
      const entry = found.get(path.slice(head.length)) ?? {};
      entry[m[2] === 'A' ? 'a' : 'b'] = key;
      found.set(path.slice(head.length), entry);
    }
    const factors = new Map<string, LoraFactors>();
    for (const [module, { a, b }] of found) {
      if (a === undefined || b === undefined) throw new ApiError('bad_input', `${file.path}: ${module} lacks lora_${a === undefined ? 'A' : 'B'}`, { file: file.path });
      const [ra, inF] = file.info(a).shape;
      const [outF, rb] = file.info(b).shape;
      if (ra !== config.r || rb !== config.r) {
        throw new ApiError('bad_input', `${file.path}: ${module} has rank ${ra}/${rb} but the config says r = ${config.r}`, { file: file.path, tensor: a });
      }
      factors.set(module, {
        a: { dims: [inF, ra], data: transpose(file.readAsFloat32(a), ra, inF) },
        b: { dims: [rb, outF], data: transpose(file.readAsFloat32(b), outF, rb) },
      });
    }
    const baseModel = typeof raw.base_model_name_or_path === 'string' ? raw.base_model_name_or_path : null;
    return {
      config, factors, baseModel, taskType: typeof raw.task_type === 'string' ? raw.task_type : null,
      ...(saved.size > 0 ? { modulesToSave: { modules, tensors: saved } } : {}),
    };
  } finally {
    file.close();
  }
}

/** W + scale * B A for a torch-layout weight [out, in] and MatMul-layout factors; a new array. */
export function mergeLora(weight: Float32Array, a: HostTensor, b: HostTensor, scale: number): Float32Array {
  const [inF, r] = a.dims;
  const outF = b.dims[1];
  if (b.dims[0] !== r || weight.length !== inF * outF) {
    throw new Error(`mergeLora: A [${a.dims}] and B [${b.dims}] do not fit a weight of ${weight.length} values`);
  }
  const out = new Float32Array(weight.length);
  const column = new Float64Array(r); // B[:, o], read once per output row
  for (let o = 0; o < outF; o++) {
    for (let k = 0; k < r; k++) column[k] = b.data[k * outF + o];
    for (let i = 0; i < inF; i++) {
      let delta = 0;
      for (let k = 0; k < r; k++) delta += a.data[i * r + k] * column[k];
      out[o * inF + i] = weight[o * inF + i] + scale * delta;
    }
  }
  return out;
}

// ---- Python's json.dumps(indent=2, sort_keys=True), byte for byte ------------------------------

const floatFields = new Set(['lora_dropout']);

/** repr(float): shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, e] = x.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 16) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const s = String(x);
  return s.includes('.') ? s : `${s}.0`;
}

// ensure_ascii: everything outside space..tilde is escaped, as lowercase \uXXXX.
const pythonString = (s: string): string => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function pythonJson(value: unknown, indent = '', key = ''): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return floatFields.has(key) || !Number.isInteger(value) ? pythonFloat(value) : String(value);
  if (typeof value === 'string') return pythonString(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    return value.length === 0 ? '[]' : `[\n${value.map((v) => inner + pythonJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, v]) => `${inner}${pythonString(k)}: ${pythonJson(v, inner, k)}`).join(',\n')}\n${indent}}`;
}
