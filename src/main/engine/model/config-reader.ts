// The pieces every family's config reading composes: a Reader whose errors name the file and the
// key, and the readers of the sections all supported families share (the SigLIP vision_config and
// the Qwen2 / Llama text_config), with the defaults of transformers' configuration classes
// (configuration_qwen2.py, configuration_llama.py, configuration_siglip.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DecoderConfig, VisionConfig } from './config';

export type Json = Record<string, unknown>;

/** Reads typed keys of one JSON object, every error naming the file and the key path. */
export class Reader {
  constructor(
    readonly file: string,
    private readonly obj: Json,
    private readonly prefix = '',
  ) {}

  private fail(key: string, want: string): never {
    const value = this.obj[key];
    const got = value === undefined ? 'it is missing' : `got ${JSON.stringify(value)}`;
    throw new Error(`${this.file}: "${this.prefix}${key}" must be ${want}; ${got}`);
  }

  int(key: string, fallback?: number): number {
    const v = this.obj[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(key, 'an integer');
    return v;
  }

  positiveInt(key: string, fallback?: number): number {
    const v = this.obj[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.fail(key, 'a positive integer');
    return v;
  }

  positive(key: string, fallback?: number): number {
    const v = this.obj[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) this.fail(key, 'a positive number');
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.obj[key] ?? fallback;
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  oneOf<T extends string>(key: string, options: readonly T[], fallback?: T): T {
    const v = this.obj[key] ?? fallback;
    if (!options.includes(v as T)) this.fail(key, `one of ${options.map((o) => `"${o}"`).join(', ')}`);
    return v as T;
  }

  child(key: string): Reader {
    const v = this.obj[key];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(key, 'an object');
    return new Reader(this.file, v as Json, `${this.prefix}${key}.`);
  }

  /** An error about how keys relate to each other, naming the file. */
  error(message: string): Error {
    return new Error(`${this.file}: ${message}`);
  }
}

/** A text_config as transformers' Qwen2Config / LlamaConfig read it. */
export function readDecoderConfig(r: Reader, modelType: DecoderConfig['modelType'], tiedFallback: boolean): DecoderConfig {
  const hiddenSize = r.positiveInt('hidden_size');
  const numHeads = r.positiveInt('num_attention_heads');
  const numKvHeads = r.positiveInt('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw r.error(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const attentionBias = modelType === 'llama' && r.bool('attention_bias', false);
  return {
    modelType,
    hiddenSize,
    intermediateSize: r.positiveInt('intermediate_size'),
    numLayers: r.positiveInt('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim: r.positiveInt('head_dim', hiddenSize / numHeads),
    rmsNormEps: r.positive('rms_norm_eps', 1e-6),
    ropeTheta: r.positive('rope_theta', 10000),
    vocabSize: r.positiveInt('vocab_size'),
    tieWordEmbeddings: r.bool('tie_word_embeddings', tiedFallback),
    qkvBias: modelType === 'qwen2' || attentionBias,
    outputBias: attentionBias,
  };
}

/** A vision_config as transformers' SiglipVisionConfig reads it. */
export function readVisionConfig(r: Reader): VisionConfig {
  const hiddenSize = r.positiveInt('hidden_size');
  const numHeads = r.positiveInt('num_attention_heads');
  const imageSize = r.positiveInt('image_size');
  const patchSize = r.positiveInt('patch_size');
  if (hiddenSize % numHeads !== 0) throw r.error(`vision hidden_size ${hiddenSize} is not divisible by its ${numHeads} heads`);
  return {
    hiddenSize,
    imageSize,
    patchSize,
    numLayers: r.positiveInt('num_hidden_layers'),
    numHeads,
    intermediateSize: r.positiveInt('intermediate_size'),
    layerNormEps: r.positive('layer_norm_eps', 1e-6),
    hiddenAct: r.oneOf('hidden_act', ['gelu_pytorch_tanh', 'gelu'] as const, 'gelu_pytorch_tanh'),
  };
}

/** config.json of a model folder, parsed, with a Reader over its top level. */
export function readConfigJson(dir: string): { file: string; json: Json; reader: Reader } {
  const file = join(dir, 'config.json');
  let json: Json;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  return { file, json, reader: new Reader(file, json) };
}
