// config.json of a supported model folder, read into the family's typed shape. Every family shares
// the vision and text sections below; the keys of its own (token ids, pixel shuffle, feature layer)
// are its module's business (families/). Every missing or mistyped key is an error naming the file
// and key (config-reader.ts).
import { readConfigJson } from './config-reader';
import { familyForModelType } from './families';
import type { Rope } from './rope';

export interface DecoderConfig {
  /** qwen2 has q/k/v biases; llama has `attention_bias` (usually false) on all four projections. */
  modelType: 'qwen2' | 'llama';
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** The MLP's activation by its ACT2FN name (silu in every published checkpoint). */
  hiddenAct: string;
  rmsNormEps: number;
  rope: Rope;
  maxPositionEmbeddings: number;
  vocabSize: number;
  tieWordEmbeddings: boolean;
  qkvBias: boolean;
  outputBias: boolean;
  /** Llama's mlp_bias: biases on gate_proj, up_proj and down_proj. */
  mlpBias: boolean;
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
  /** By its ACT2FN name (gelu_pytorch_tanh in SigLIP). */
  hiddenAct: string;
}

/** What every family's config holds; a family's own config type adds its keys (families/). */
export interface ModelConfig {
  /** The family's id (families/index.ts), e.g. 'llava-onevision'. */
  arch: string;
  file: string;
  vision: VisionConfig;
  text: DecoderConfig;
}

/** Reads config.json with the family its model_type names; an unknown model_type is an error. */
export function readModelConfig(dir: string): ModelConfig {
  const { file, json, reader } = readConfigJson(dir);
  return familyForModelType(json.model_type, file).readConfig(reader, json.model_type as string);
}
