// `isr-studio train`: DPO-family or SFT training of a model folder with LoRA outside a round, from
// a TRL-style preference file (src/main/isr/preference-training.ts does the work and names the files
// it writes into --out). Here: the options, and a line per step.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { ApiError } from '../../shared/errors';
import { count } from '../../shared/plural';
import { dpoLossTypes, maxFrames } from '../../shared/run-settings';
import { readDatasetFile } from '../api/dataset-file';
import { defaultTrainConfig, type TrainConfig } from '../engine/train/train-config';
import { dpoMetricNames, type StepMetrics } from '../engine/train/update-loop';
import { preferenceRows, trainOnPreferences } from '../isr/preference-training';
import { defaultCacheDir } from './model-input';
import { choice, decimal, integer } from './options';

/** TRL's loss_type values, and sft. */
const losses = [...dpoLossTypes, 'sft'] as const;
type LossOption = (typeof losses)[number];

interface TrainCliOptions {
  model: string;
  pairs: string;
  out: string;
  loss: LossOption;
  beta: number;
  lr: number;
  epochs: number;
  batchSize: number;
  gradAccum: number;
  loraR: number;
  loraAlpha: number;
  loraDropout: number;
  loraTargets: string;
  trainProjector?: boolean;
  trainEmbeddings?: boolean;
  gradientCheckpointing: boolean;
  warmupRatio: number;
  schedule: TrainConfig['schedule'];
  labelSmoothing: number;
  sftWeight: number;
  lengthPenalty: number;
  frames: number;
  seed: number;
  cache: string;
  maxLength?: number;
  maxCompletionLength?: number;
}

function trainConfig(o: TrainCliOptions): TrainConfig {
  const targets = o.loraTargets.split(',').map((t) => t.trim()).filter(Boolean);
  if (targets.length === 0) throw new ApiError('invalid_argument', '--lora-targets names no module');
  return {
    ...defaultTrainConfig,
    loss: o.loss,
    beta: o.beta, lr: o.lr, epochs: o.epochs, batchSize: o.batchSize, gradientAccumulation: o.gradAccum, warmupRatio: o.warmupRatio,
    schedule: o.schedule, labelSmoothing: o.labelSmoothing, sftWeight: o.sftWeight, lengthPenalty: o.lengthPenalty, seed: o.seed,
    lora: { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targets },
    trainProjector: o.trainProjector === true,
    trainEmbeddings: o.trainEmbeddings === true,
    gradientCheckpointing: o.gradientCheckpointing,
    maxLength: o.maxLength ?? defaultTrainConfig.maxLength, maxCompletionLength: o.maxCompletionLength ?? null,
  };
}

const format = (m: StepMetrics, keys: readonly string[]) =>
  keys.filter((k) => k in m).map((k) => `${k}=${Math.abs(m[k]) >= 1e-3 || m[k] === 0 ? m[k].toFixed(4) : m[k].toExponential(2)}`).join(' ');

export function registerTrain(program: Command): void {
  program
    .command('train')
    .summary('train a model folder with LoRA on preference pairs (DPO, IPO, hinge, robust) or answers (SFT)')
    .description(
      'train a model folder with LoRA on a JSONL of TRL-style rows {prompt, chosen, rejected, video} (video paths relative ' +
        'to the file; rejected not needed for sft). Prints each step under TRL\'s metric names; writes adapter/, merged/, ' +
        'metrics.jsonl and summary.json into --out. Running the same command again resumes from --out.',
    )
    .requiredOption('--model <dir>', 'model folder (Hugging Face layout)')
    .requiredOption('--pairs <file>', 'preference rows (.jsonl or .json)')
    .requiredOption('--out <dir>', 'where the adapter, merged model, metrics and resumable state go')
    .option('--loss <kind>', `TRL's loss_type: ${losses.join(', ')}`, choice(losses), defaultTrainConfig.loss)
    .option('--beta <b>', 'DPO beta', decimal(1e-6), defaultTrainConfig.beta)
    .option('--lr <lr>', 'peak learning rate', decimal(1e-12, 1), defaultTrainConfig.lr)
    .option('--epochs <e>', 'passes over the data', integer(1, 1000), defaultTrainConfig.epochs)
    .option('--batch-size <n>', 'pairs per micro-batch', integer(1, 1024), defaultTrainConfig.batchSize)
    .option('--grad-accum <n>', 'micro-batches per update', integer(1, 1024), defaultTrainConfig.gradientAccumulation)
    .option('--lora-r <r>', 'LoRA rank', integer(1, 1024), defaultTrainConfig.lora.r)
    .option('--lora-alpha <a>', 'LoRA alpha (scale = alpha / r)', decimal(1e-6), defaultTrainConfig.lora.alpha)
    .option('--lora-dropout <p>', 'dropout on the adapter input', decimal(0, 0.9), defaultTrainConfig.lora.dropout)
    .option('--lora-targets <names>', 'comma-separated module names', (defaultTrainConfig.lora.targets as string[]).join(','))
    .option('--train-projector', 'also train the projector (LLaVA-OneVision) or connector (Idefics3); saved as PEFT modules_to_save')
    .option('--train-embeddings', 'also train the token embeddings and the output head; saved as PEFT modules_to_save embed_tokens, lm_head')
    .option('--no-gradient-checkpointing', 'keep every layer\'s activations for the backward instead of recomputing them: faster by about a quarter, memory grows with layers x sequence')
    .option('--warmup-ratio <f>', 'share of steps warming up', decimal(0, 1), defaultTrainConfig.warmupRatio)
    .option('--schedule <kind>', 'cosine, linear or constant after warmup', choice(['cosine', 'linear', 'constant'] as const), defaultTrainConfig.schedule)
    .option('--label-smoothing <eps>', 'cDPO / robust label noise', decimal(0, 0.499), 0)
    .option('--sft-weight <gamma>', 'adds gamma * NLL(chosen) to the loss', decimal(0), 0)
    .option('--length-penalty <alpha>', 'R-DPO alpha * (|chosen| - |rejected|) inside the sigmoid', decimal(0), 0)
    .option('--max-length <n>', `TRL's max_length: longest prompt + response in tokens; a response's end is cut to fit (truncation_mode keep_start), a prompt that leaves no room is refused (default: ${defaultTrainConfig.maxLength}; never past the model's max_position_embeddings)`, integer(16))
    .option('--max-completion-length <n>', "TRL's max_completion_length: each response cut to its first n tokens (default: no cut)", integer(1))
    .option('--frames <n>', 'frames sampled from each video', integer(1, maxFrames), 8)
    .option('--seed <s>', 'seed for LoRA init and data order', integer(0), 0)
    .option('--cache <dir>', 'cache for frames and vision features', defaultCacheDir())
    .action(async (opts: TrainCliOptions) => {
      const settings = trainConfig(opts);
      const pairs = resolve(opts.pairs);
      const rows = preferenceRows(pairs, await readDatasetFile(pairs), settings.loss !== 'sft');
      const keys = settings.loss === 'sft' ? ['loss', 'grad_norm', 'learning_rate', 'tokens/s'] : dpoMetricNames;
      const r = await trainOnPreferences({
        model: opts.model, pairs, rows, out: opts.out, settings, frames: opts.frames, cacheDir: opts.cache,
        onReference: (n) => process.stdout.write(`reference log-probs of ${count(n, 'pair')}...\n`),
        onStep: (m, total) => process.stdout.write(`step ${m.step}/${total} epoch ${m.epoch.toFixed(2)} ${format(m, keys)}\n`),
        onCut: (message) => process.stdout.write(`${message}\n`),
      });
      process.stdout.write(`trained ${count(r.steps, 'step')} on ${count(r.examples, 'example')}; adapter in ${r.adapterDir}, merged model in ${r.mergedDir}\n`);
      if (r.final) process.stdout.write(`final: ${format(r.final, keys)}\n`);
    });
}
