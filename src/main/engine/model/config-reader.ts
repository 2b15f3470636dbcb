// The pieces every family's config reading composes: a Reader whose errors name the file and the
// key, and the readers of the sections all supported families share (the SigLIP vision_config and
// the Qwen2 / Llama text_config), with the defaults of transformers' configuration classes
// (configuration_qwen2.py, configuration_llama.py, configuration_siglip.py).
import { statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { ApiError, fileProblem, shownValue } from '../../../shared/errors';
import { activationNames } from '../graph/nn';
import type { DecoderConfig, VisionConfig } from './config';
import { readJsonObject } from './json-file';
import { readRope } from './rope';

export type Json = Record<string, unknown>;

/**
 * Reads typed keys of one JSON object, every error naming the file and the key path. A key the
 * object leaves out takes the configuration class's default (`defaults`, transformers' __init__
 * signature), as transformers would; a call's own fallback stands for a JSON null or a key with no
 * class default.
 */
export class Reader {
  constructor(
    readonly file: string,
    private readonly obj: Json,
    private readonly prefix = '',
    private readonly defaults: ConfigDefaults = {},
  ) {}

  private value(key: string, fallback: unknown): unknown {
    return (key in this.obj ? this.obj[key] : this.defaults[key]) ?? fallback;
  }

  private fail(key: string, want: string): never {
    const value = this.obj[key];
    const got = value === undefined ? 'it is missing' : `got ${shownValue(value)}`;
    throw new ApiError('bad_input', `${this.file}: "${this.prefix}${key}" must be ${want}; ${got}`, { file: this.file, key: `${this.prefix}${key}` });
  }

  /** Whether the object itself holds `key` (not null). */
  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  int(key: string, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(key, 'an integer');
    return v;
  }

  positiveInt(key: string, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.fail(key, 'a positive integer');
    return v;
  }

  positive(key: string, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== 'number' || !(v > 0)) this.fail(key, 'a positive number');
    return v;
  }

  atLeast(key: string, min: number, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== 'number' || !(v >= min)) this.fail(key, `a number of at least ${min}`);
    return v;
  }

  /** A number, or undefined where the key is absent or null. */
  optionalNumber(key: string): number | undefined {
    const v = this.value(key, undefined);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, 'a number');
    return v;
  }

  bool(key: string, fallback?: boolean): boolean {
    const v = this.value(key, fallback);
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  oneOf<T extends string>(key: string, options: readonly T[], fallback?: T): T {
    const v = this.value(key, fallback);
    if (!options.includes(v as T)) this.fail(key, `one of ${options.map((o) => `"${o}"`).join(', ')}`);
    return v as T;
  }

  /** A key whose value the studio implements only for some settings: anything else is refused. */
  only(key: string, allowed: readonly unknown[], why: string): void {
    const v = this.value(key, undefined);
    if (!allowed.includes(v)) throw new ApiError('bad_input', `${this.file}: "${this.prefix}${key}" ${shownValue(v)} is not supported (${why})`, { file: this.file, key: `${this.prefix}${key}` });
  }

  child(key: string): Reader {
    const v = this.obj[key];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(key, 'an object');
    return new Reader(this.file, v as Json, `${this.prefix}${key}.`);
  }

  /**
   * A sub-config read with its class's defaults; where config.json leaves it out (or null), the
   * object the parent class builds in its place (`absent`, e.g. LlavaOnevisionConfig's SigLIP).
   */
  section(key: string, defaults: ConfigDefaults, absent: Json = {}): Reader {
    const v = this.obj[key];
    if (v === undefined || v === null) return new Reader(this.file, absent, `${this.prefix}${key}.`, defaults);
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, 'an object');
    return new Reader(this.file, v as Json, `${this.prefix}${key}.`, defaults);
  }

  /** An error about how keys relate to each other, naming the file. */
  error(message: string): Error {
    return new ApiError('bad_input', `${this.file}: ${message}`, { file: this.file });
  }

  /** A token id the model embeds (an image or video placeholder): from 0 to below the text model's
   *  vocab_size, which `text` read under `text_config`. */
  tokenId(key: string, fallback: number, text: DecoderConfig): number {
    const id = this.int(key, fallback);
    if (id < 0 || id >= text.vocabSize) {
      throw new ApiError('bad_input', `${this.file}: "${this.prefix}${key}" ${id} is not a token id of the model, whose text_config.vocab_size is ${text.vocabSize} (ids 0..${text.vocabSize - 1})`, { file: this.file, key: `${this.prefix}${key}` });
    }
    return id;
  }
}

/** A configuration class's defaults for the keys the studio reads. */
export type ConfigDefaults = Readonly<Record<string, unknown>>;

/**
 * The defaults of the configuration classes the families' configs are made of, from transformers'
 * configuration_qwen2.py, configuration_llama.py, configuration_siglip.py (SiglipVisionConfig),
 * configuration_idefics3.py (Idefics3VisionConfig) and configuration_smolvlm.py (SmolVLMVisionConfig),
 * by the model_type that names each class.
 */
export const configClasses = {
  qwen2: {
    vocab_size: 151936, hidden_size: 4096, intermediate_size: 22016, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: 32, hidden_act: 'silu', max_position_embeddings: 32768, rms_norm_eps: 1e-6, tie_word_embeddings: false,
    rope_theta: 10000, use_sliding_window: false,
  },
  llama: {
    vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: null, hidden_act: 'silu', max_position_embeddings: 2048, rms_norm_eps: 1e-6, tie_word_embeddings: false,
    rope_theta: 10000, attention_bias: false, mlp_bias: false, head_dim: null,
  },
  siglip_vision_model: {
    hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, num_channels: 3,
    image_size: 224, patch_size: 16, hidden_act: 'gelu_pytorch_tanh', layer_norm_eps: 1e-6,
  },
  idefics3_vision: {
    hidden_size: 1152, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 16, num_channels: 3,
    image_size: 224, patch_size: 32, hidden_act: 'gelu_pytorch_tanh', layer_norm_eps: 1e-6,
  },
  smolvlm_vision: {
    hidden_size: 1152, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 16, num_channels: 3,
    image_size: 224, patch_size: 32, hidden_act: 'gelu_pytorch_tanh', layer_norm_eps: 1e-6,
  },
} as const satisfies Record<string, ConfigDefaults>;

/** A text_config as transformers' Qwen2Config / LlamaConfig read it (modelType picks the class). */
export function readDecoderConfig(r: Reader, modelType: DecoderConfig['modelType']): DecoderConfig {
  const hiddenSize = r.positiveInt('hidden_size');
  const numHeads = r.positiveInt('num_attention_heads');
  const numKvHeads = r.positiveInt('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw r.error(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const headDim = r.positiveInt('head_dim', Math.floor(hiddenSize / numHeads));
  if (headDim % 2 !== 0) throw r.error(`head_dim ${headDim} must be even for rotary embeddings`);
  const llama = modelType === 'llama';
  const attentionBias = llama && r.bool('attention_bias');
  if (!llama) r.only('use_sliding_window', [false], 'sliding-window attention is not implemented; every published Qwen2 checkpoint of the families leaves it off');
  const maxPositionEmbeddings = r.positiveInt('max_position_embeddings');
  return {
    modelType,
    hiddenSize,
    intermediateSize: r.positiveInt('intermediate_size'),
    numLayers: r.positiveInt('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    hiddenAct: readActivation(r, 'hidden_act'),
    rmsNormEps: r.positive('rms_norm_eps'),
    rope: readRope(r, headDim, maxPositionEmbeddings),
    maxPositionEmbeddings,
    vocabSize: r.positiveInt('vocab_size'),
    tieWordEmbeddings: r.bool('tie_word_embeddings'),
    qkvBias: !llama || attentionBias,
    outputBias: attentionBias,
    mlpBias: llama && r.bool('mlp_bias'),
  };
}

/** A vision_config as transformers' SiglipVisionConfig (or Idefics3's / SmolVLM's copy of it) reads it. */
export function readVisionConfig(r: Reader): VisionConfig {
  const hiddenSize = r.positiveInt('hidden_size');
  const numHeads = r.positiveInt('num_attention_heads');
  const imageSize = r.positiveInt('image_size');
  const patchSize = r.positiveInt('patch_size');
  if (hiddenSize % numHeads !== 0) throw r.error(`"vision_config.hidden_size" ${hiddenSize} is not divisible by "vision_config.num_attention_heads" ${numHeads}`);
  r.only('num_channels', [3], 'frames are decoded as RGB');
  return {
    hiddenSize,
    imageSize,
    patchSize,
    numLayers: r.positiveInt('num_hidden_layers'),
    numHeads,
    intermediateSize: r.positiveInt('intermediate_size'),
    layerNormEps: r.positive('layer_norm_eps'),
    hiddenAct: readActivation(r, 'hidden_act'),
  };
}

/** An activation by its ACT2FN name (graph/nn.ts implements each). */
export function readActivation(r: Reader, key: string, fallback?: string): string {
  return r.oneOf(key, activationNames, fallback);
}

/** config.json of a model folder, parsed, with a Reader over its top level. */
export function readConfigJson(dir: string): { file: string; json: Json; reader: Reader } {
  // The folder first, so a mistyped path is named as the folder it is, not as its config.json.
  let folder: Stats | undefined;
  try {
    folder = statSync(dir, { throwIfNoEntry: false });
  } catch (err) {
    throw new ApiError('bad_input', fileProblem(err, 'model folder', dir), { file: dir });
  }
  if (folder === undefined) throw new ApiError('bad_input', fileProblem({ code: 'ENOENT' }, 'model folder', dir), { file: dir });
  if (!folder.isDirectory()) throw new ApiError('bad_input', `model folder is a file, not a folder: ${dir}`, { file: dir });
  const file = join(dir, 'config.json');
  const json = readJsonObject(file);
  return { file, json, reader: new Reader(file, json) };
}
