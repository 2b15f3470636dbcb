// config.json of a supported model folder, read into the family's typed shape. Every family shares
// the vision and text sections below; the keys of its own (token ids, pixel shuffle, feature layer)
// are its module's business (families/). Every missing or mistyped key is an error naming the file
// and key (config-reader.ts).
import { ApiError } from '../../../shared/errors';
import { readConfigJson } from './config-reader';
import { familyForModelType, type ModelFamily } from './families';
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
  const family = familyForModelType(json.model_type, file);
  const config = family.readConfig(reader, json.model_type as string);
  checkContextLength(config, family);
  return config;
}

/**
 * The least max_position_embeddings a model the studio runs can have: the smallest prompt it makes
 * shows one frame, whose visual tokens (the family's per-frame grid, plus the rows it appends after
 * a video) all take positions, and one more position is the first token generated. The text around
 * them (the chat template's turns and the question) is checked on the folder's real prompt when the
 * model is loaded (vlm.ts), and every later prompt against the whole length (prompt.ts).
 */
function checkContextLength(config: ModelConfig, family: ModelFamily): void {
  const grid = family.promptGrid(config);
  // A grid that is no whole number of tokens is the family's error to name (its visionGrid).
  if (!Number.isInteger(grid)) return;
  const frame = grid * grid + family.appendedVisualRows;
  const least = frame + 1;
  const max = config.text.maxPositionEmbeddings;
  if (max < least) {
    throw new ApiError('bad_input', `${config.file}: "text_config.max_position_embeddings" ${max} is too short for any prompt: one frame alone takes ${frame} visual tokens, so it must be at least ${least} (that frame and one token to generate; a frame's tokens follow vision_config image_size ${config.vision.imageSize} and patch_size ${config.vision.patchSize})`, { file: config.file, key: 'text_config.max_position_embeddings' });
  }
}
