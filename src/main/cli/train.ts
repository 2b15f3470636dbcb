// `isr-studio train`: DPO-family or SFT training of a model folder with LoRA outside a round, from
// a TRL-style preference file ({prompt, chosen, rejected, video} per line). Writes into --out:
// adapter/ (PEFT), merged/ (a model folder in the input's layout), metrics.jsonl (one line per
// step, TRL's names), reference_logps.json (computed once), state/ (so re-running resumes) and
// summary.json.
import type { Command } from 'commander';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ApiError } from '../../shared/errors';
import { defaultTrainConfig, dpoMetricNames, Trainer, type StepMetrics, type TrainConfig, type TrainExample } from '../engine/train/trainer';
import { dpoLossTypes } from '../engine/train/losses';
import { keepLoggedSteps } from '../engine/train/state';
import { userTurn } from '../engine/model/tokenizer';
import { VideoLanguageModel } from '../engine/model/vlm';
import { readDatasetFile } from '../api/dataset-file';
import { VideoFeatures } from '../isr/video-features';
import { resolveFfmpeg } from '../video/ffmpeg';
import { defaultCacheDir } from './model-input';
import { choice, decimal, integer } from './options';

const losses = ['dpo', ...dpoLossTypes.filter((l) => l !== 'sigmoid'), 'sft'] as const;
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
  warmupRatio: number;
  schedule: TrainConfig['schedule'];
  labelSmoothing: number;
  sftWeight: number;
  lengthPenalty: number;
  frames: number;
  seed: number;
  cache: string;
}

const text = (field: string) => z.string({ error: (i) => (i.input === undefined ? `${field} is missing` : `${field} must be a string`) }).min(1, `${field} is empty`);
const rowSchema = z.object({ prompt: text('prompt'), chosen: text('chosen'), rejected: text('rejected').optional(), video: text('video').optional() });
type PreferenceRow = z.infer<typeof rowSchema> & { line: number };

/** Every row of the file, or an error listing each bad row by line and field (training on part of a file would mislead). */
async function readPreferences(path: string, needRejected: boolean): Promise<PreferenceRow[]> {
  const rows: PreferenceRow[] = [];
  const problems: string[] = [];
  for (const row of await readDatasetFile(path)) {
    if ('issue' in row) {
      problems.push(row.issue.message);
      continue;
    }
    const parsed = rowSchema.safeParse(row.value);
    if (!parsed.success) problems.push(`line ${row.line}: ${parsed.error.issues[0].message}`);
    else if (needRejected && parsed.data.rejected === undefined) problems.push(`line ${row.line}: rejected is missing`);
    else rows.push({ ...parsed.data, line: row.line });
  }
  if (problems.length > 0) throw new ApiError('bad_input', `${path}: ${problems.length} bad row(s):\n  ${problems.join('\n  ')}`);
  return rows;
}

function trainConfig(o: TrainCliOptions): TrainConfig {
  const targets = o.loraTargets.split(',').map((t) => t.trim()).filter(Boolean);
  if (targets.length === 0) throw new ApiError('invalid_argument', '--lora-targets names no module');
  return {
    ...defaultTrainConfig,
    loss: o.loss === 'dpo' ? 'sigmoid' : o.loss,
    beta: o.beta, lr: o.lr, epochs: o.epochs, batchSize: o.batchSize, gradientAccumulation: o.gradAccum, warmupRatio: o.warmupRatio,
    schedule: o.schedule, labelSmoothing: o.labelSmoothing, sftWeight: o.sftWeight, lengthPenalty: o.lengthPenalty, seed: o.seed,
    lora: { r: o.loraR, alpha: o.loraAlpha, dropout: o.loraDropout, targets },
    trainProjector: o.trainProjector === true,
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
    .option('--loss <kind>', `${losses.join(', ')}`, choice(losses), 'dpo')
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
    .option('--warmup-ratio <f>', 'share of steps warming up', decimal(0, 1), defaultTrainConfig.warmupRatio)
    .option('--schedule <kind>', 'cosine, linear or constant after warmup', choice(['cosine', 'linear', 'constant'] as const), defaultTrainConfig.schedule)
    .option('--label-smoothing <eps>', 'cDPO / robust label noise', decimal(0, 0.499), 0)
    .option('--sft-weight <gamma>', 'adds gamma * NLL(chosen) to the loss', decimal(0), 0)
    .option('--length-penalty <alpha>', 'R-DPO alpha * (|chosen| - |rejected|) inside the sigmoid', decimal(0), 0)
    .option('--frames <n>', 'frames sampled from each video', integer(1, 64), 8)
    .option('--seed <s>', 'seed for LoRA init and data order', integer(0), 0)
    .option('--cache <dir>', 'cache for frames and vision features', defaultCacheDir())
    .action(async (opts: TrainCliOptions) => {
      const settings = trainConfig(opts);
      const out = resolve(opts.out);
      const pairsFile = resolve(opts.pairs);
      const rows = await readPreferences(pairsFile, settings.loss !== 'sft');
      const model = await VideoLanguageModel.load(resolve(opts.model));
      try {
        const eot = model.tokenizer.stopTokenIds()[0];
        const features = rows.some((r) => r.video !== undefined) ? new VideoFeatures(model, (await resolveFfmpeg()).path, opts.cache) : null;
        const examples: TrainExample[] = [];
        for (const row of rows) {
          const video = row.video === undefined ? undefined : resolve(dirname(pairsFile), row.video);
          if (video !== undefined && !existsSync(video)) throw new ApiError('bad_input', `${pairsFile} line ${row.line}: video not found: ${video}`);
          const prompt = model.prompt(userTurn(row.prompt, video !== undefined), video === undefined ? 0 : opts.frames);
          const response = (t: string) => [...model.tokenizer.encode(t), eot];
          examples.push({
            prompt: prompt.inputIds,
            chosen: response(row.chosen),
            rejected: row.rejected === undefined ? undefined : response(row.rejected),
            visual: video === undefined ? undefined : { tokenId: prompt.visualTokenId!, features: await features!.of(video, opts.frames) },
            tower: video === undefined || !settings.trainProjector ? undefined : await features!.of(video, opts.frames, 'tower'),
          });
        }
        mkdirSync(out, { recursive: true });
        const trainer = Trainer.create(model, examples, settings, join(out, 'state'));
        let reference: Float32Array | undefined;
        if (settings.loss !== 'sft') {
          const file = join(out, 'reference_logps.json');
          if (existsSync(file)) reference = Float32Array.from(JSON.parse(readFileSync(file, 'utf8')) as number[]);
          else {
            process.stdout.write(`reference log-probs of ${examples.length} pairs...\n`);
            reference = await trainer.referenceLogps();
            writeFileSync(file, JSON.stringify(Array.from(reference)));
          }
        }
        const keys = settings.loss === 'sft' ? ['loss', 'grad_norm', 'learning_rate', 'tokens/s'] : dpoMetricNames;
        const metricsFile = join(out, 'metrics.jsonl');
        keepLoggedSteps(metricsFile, join(out, 'state'));
        const seen: StepMetrics[] = [];
        const state = await trainer.train({
          reference,
          saveEvery: 1,
          onStep: (m) => {
            seen.push(m);
            appendFileSync(metricsFile, `${JSON.stringify(m)}\n`);
            process.stdout.write(`step ${m.step}/${trainer.totalSteps} epoch ${m.epoch.toFixed(2)} ${format(m, keys)}\n`);
          },
        });
        trainer.writeAdapter(join(out, 'adapter'), state, model.dir);
        trainer.writeMerged(join(out, 'merged'), model.dir, state);
        const last = seen.at(-1) ?? null;
        const summary = { model: model.dir, pairs: pairsFile, examples: examples.length, steps: state.step, settings, final: last };
        writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
        process.stdout.write(`trained ${state.step} steps on ${examples.length} examples; adapter in ${join(out, 'adapter')}, merged model in ${join(out, 'merged')}\n`);
        if (last) process.stdout.write(`final: ${format(last, keys)}\n`);
      } finally {
        await model.release();
      }
    });
}
