// config.json of a supported model folder, read into one typed shape per family. Key names and
// defaults follow the families' transformers configuration classes (configuration_qwen2.py,
// configuration_llama.py, configuration_siglip.py, configuration_llava_onevision.py,
// configuration_idefics3.py); every missing or mistyped key is an error naming the file and key.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface DecoderConfig {
  /** qwen2 has q/k/v biases; llama has `attention_bias` (usually false) on all four projections. */
  modelType: 'qwen2' | 'llama';
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rmsNormEps: number;
  ropeTheta: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
  qkvBias: boolean;
  outputBias: boolean;
}

export interface VisionConfig {
  hiddenSize: number;
  /** The conv patch embedding floors: SigLIP's 384 / 14 gives 27 x 27 patches. */
  imageSize: number;
  patchSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  layerNormEps: number;
  hiddenAct: 'gelu_pytorch_tanh' | 'gelu';
}

export type ModelConfig =
  | {
      arch: 'llava-onevision';
      file: string;
      vision: VisionConfig;
      text: DecoderConfig;
      imageTokenId: number;
      videoTokenId: number;
      /** Index into the tower's hidden states (-1: the last layer's output). */
      visionFeatureLayer: number;
      /** 'default' drops a CLS token; SigLIP has none, so OneVision uses 'full'. */
      visionFeatureSelectStrategy: 'full' | 'default';
    }
  | {
      arch: 'idefics3';
      modelType: 'idefics3' | 'smolvlm';
      file: string;
      vision: VisionConfig;
      text: DecoderConfig;
      imageTokenId: number;
      scaleFactor: number;
    };

type Json = Record<string, unknown>;

class Reader {
  constructor(
    private readonly file: string,
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

function decoder(r: Reader, modelType: DecoderConfig['modelType'], tiedFallback: boolean): DecoderConfig {
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

function vision(r: Reader): VisionConfig {
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

export function readModelConfig(dir: string): ModelConfig {
  const file = join(dir, 'config.json');
  let json: Json;
  try {
    json = JSON.parse(readFileSync(file, 'utf8')) as Json;
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const r = new Reader(file, json);
  const modelType = json.model_type;
  const tied = r.bool('tie_word_embeddings', false);
  if (modelType === 'llava_onevision') {
    const textReader = r.child('text_config');
    return {
      arch: 'llava-onevision',
      file,
      vision: vision(r.child('vision_config')),
      text: decoder(textReader, textReader.oneOf('model_type', ['qwen2'] as const, 'qwen2'), tied),
      imageTokenId: r.int('image_token_index'),
      videoTokenId: r.int('video_token_index'),
      visionFeatureLayer: r.int('vision_feature_layer', -1),
      visionFeatureSelectStrategy: r.oneOf('vision_feature_select_strategy', ['full', 'default'] as const, 'full'),
    };
  }
  if (modelType === 'idefics3' || modelType === 'smolvlm') {
    const textReader = r.child('text_config');
    return {
      arch: 'idefics3',
      modelType,
      file,
      vision: vision(r.child('vision_config')),
      text: decoder(textReader, textReader.oneOf('model_type', ['llama'] as const, 'llama'), tied),
      imageTokenId: r.int('image_token_id'),
      scaleFactor: r.positiveInt('scale_factor', 2),
    };
  }
  throw new Error(
    `${file}: unsupported model_type ${JSON.stringify(modelType)}; ISR Studio runs "llava_onevision", "idefics3" and "smolvlm"`,
  );
}
