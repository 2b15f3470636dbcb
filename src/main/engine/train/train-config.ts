// What a training run is given (the model, its examples, the settings) and the checks, made before
// anything runs, that they can train.
import { ApiError } from '../../../shared/errors';
import { runSettingsDefaults, type DpoLossType } from '../../../shared/run-settings';
import type { ModelConfig } from '../model/config';
import type { LanguageModel } from '../model/language-model';
import { towerTokensPerFrame } from '../model/vision';
import type { ModelWeights } from '../model/weights';
import { checkLoraTargets, decoderLinearModules, defaultLoraConfig, type LoraConfig } from './lora';
import type { Schedule } from './schedule';
import type { LengthLimits } from './truncation';

/** A loaded model as training uses it: its config, its checkpoint, and its language model (the host's embeddings). */
export interface TrainableModel {
  config: ModelConfig;
  weights: ModelWeights;
  lm: LanguageModel;
}

export interface TrainExample {
  /** The chat-formatted prompt (with its visual tokens) as ids. */
  prompt: number[];
  /** Response ids, ending with the end-of-turn token. */
  chosen: number[];
  /** Response ids for DPO; absent for SFT. */
  rejected?: number[];
  visual?: { tokenId: number; features: Float32Array };
  /** The video's tower features before the projector, [frames, towerTokensPerFrame, vision hidden]:
   *  needed (for every example with a video) when the projector is trained. */
  tower?: Float32Array;
}

export interface TrainConfig extends LengthLimits {
  loss: DpoLossType | 'sft';
  beta: number;
  labelSmoothing: number;
  sftWeight: number;
  lengthPenalty: number;
  lr: number;
  epochs: number;
  /** Pairs (or SFT examples) per micro-batch. */
  batchSize: number;
  gradientAccumulation: number;
  warmupRatio: number;
  schedule: Schedule['kind'];
  weightDecay: number;
  maxGradNorm: number;
  lora: LoraConfig;
  /** Also train the projector (LLaVA-OneVision) or connector (Idefics3) as whole tensors; the vision
   *  tower stays frozen and its features come from the cache. */
  trainProjector: boolean;
  /** Also train the token embeddings and the output head (one tensor when tied) as whole tensors:
   *  PEFT's modules_to_save ["embed_tokens", "lm_head"]. The head's gradient is a product with the
   *  logits' gradient, so on a real vocabulary it costs memory as the logits do; the embeddings' rows
   *  are summed back by a scatter (autodiff/rules.ts, Gather). */
  trainEmbeddings: boolean;
  /** transformers' gradient_checkpointing: each decoder layer's forward is recomputed in the
   *  backward, so one layer's activations are kept at a time instead of all of them, for about a
   *  third more compute. On by default (transformers: off): on a CPU the limit is memory, and a
   *  video prompt's activations would not fit (BENCHMARKS.md, real-sized checkpoints). */
  gradientCheckpointing: boolean;
  seed: number;
}

const { train } = runSettingsDefaults;

/** A round's training defaults (src/shared/run-settings.ts, docs/method.md); for what a run does not
 *  set: 10% warm-up then cosine (TRL's TrainingArguments: none, linear), no weight decay and
 *  gradient clipping at 1 (TRL's). */
export const defaultTrainConfig: TrainConfig = {
  loss: train.loss, beta: train.beta, labelSmoothing: 0, sftWeight: train.sftWeight, lengthPenalty: train.lengthPenalty, lr: train.lr, epochs: train.epochs,
  batchSize: train.batchSize, gradientAccumulation: 1, warmupRatio: 0.1, schedule: 'cosine', weightDecay: 0, maxGradNorm: 1,
  lora: defaultLoraConfig, trainProjector: train.trainProjector, trainEmbeddings: train.trainEmbeddings, gradientCheckpointing: true, seed: runSettingsDefaults.seed,
  maxLength: train.maxLength, maxCompletionLength: null,
};

/** DPO-family losses train on pairs (chosen and rejected); SFT on the chosen response alone. */
export const trainsOnPairs = (settings: Pick<TrainConfig, 'loss'>): boolean => settings.loss !== 'sft';

/** Updates the whole run takes: epochs x ceil(examples / (batch x accumulation)). */
export function totalSteps(settings: TrainConfig, examples: number): number {
  const { batchSize, gradientAccumulation, epochs } = settings;
  return epochs * Math.ceil(examples / (batchSize * gradientAccumulation));
}

const bad = (what: string) => new ApiError('invalid_argument', `training settings: ${what}`);

/**
 * Checks the settings and the examples, naming the first problem. Returns the frames per video of
 * the examples' tower features (0 when the projector is frozen), which the projector's graph needs.
 */
export function checkTraining(config: ModelConfig, examples: readonly TrainExample[], settings: TrainConfig): number {
  if (examples.length === 0) throw bad('there are no examples to train on');
  checkSettings(settings);
  checkLoraTargets(settings.lora.targets, decoderLinearModules(config), 'training settings');
  const limit = Math.min(settings.maxLength ?? Infinity, config.text.maxPositionEmbeddings);
  examples.forEach((e, i) => {
    if (e.chosen.length === 0) throw bad(`example ${i + 1} has an empty chosen response`);
    const longest = e.prompt.length + Math.max(e.chosen.length, e.rejected?.length ?? 0);
    if (longest > limit) throw bad(`example ${i + 1} is ${longest} tokens, over the limit of ${limit} (max_length, max_position_embeddings): fit it first (truncation.ts)`);
    if (trainsOnPairs(settings) && (e.rejected === undefined || e.rejected.length === 0)) throw bad(`example ${i + 1} has no rejected response (needed for ${settings.loss})`);
  });
  return settings.trainProjector ? towerFrames(config, examples) : 0;
}

function checkSettings(settings: TrainConfig): void {
  if (!(settings.beta > 0)) throw bad(`beta must be > 0, got ${settings.beta}`);
  if (!(settings.lr > 0)) throw bad(`lr must be > 0, got ${settings.lr}`);
  for (const key of ['epochs', 'batchSize', 'gradientAccumulation'] as const) {
    if (!(Number.isInteger(settings[key]) && settings[key] >= 1)) throw bad(`${key} must be a whole number >= 1, got ${settings[key]}`);
  }
  if (!(settings.lora.r >= 1 && Number.isInteger(settings.lora.r))) throw bad(`lora r must be a whole number >= 1, got ${settings.lora.r}`);
}

/** Frames per video of the tower features, which training the projector needs on every video, all alike. */
function towerFrames(config: ModelConfig, examples: readonly TrainExample[]): number {
  const perFrame = towerTokensPerFrame(config) * config.vision.hiddenSize;
  const lengths = new Set(examples.filter((e) => e.visual).map((e, i) => {
    if (e.tower === undefined) throw bad(`example ${i + 1} shows a video but has no tower features, which training the projector needs`);
    return e.tower.length;
  }));
  if (lengths.size === 0) throw bad('training the projector needs examples with videos');
  if (lengths.size > 1) throw bad('training the projector needs the same number of frames for every video');
  const frames = [...lengths][0] / perFrame;
  if (!Number.isInteger(frames)) throw bad(`tower features of ${[...lengths][0]} values are not whole frames of ${perFrame}`);
  return frames;
}
