// `isr-studio export --format trl-job`: a round's DPO training as a job for TRL's DPOTrainer with a
// PEFT LoRA adapter on a GPU machine (docs/scale.md). The job trains on exactly the pairs the round
// trains on (trained_pairs, fixed now if the round had not fixed them yet), each as TRL's
// conversational preference row plus what the studio used to build it (the rendered prompt, the
// video and the times its frames are read at), with the run's settings under TRL's and PEFT's names.
// The adapter it writes comes back with `isr-studio import-adapter`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../../../shared/errors';
import { readModelConfig, type ModelConfig } from '../../engine/model/config';
import { familyOf } from '../../engine/model/families';
import { modulesToSave, wholeTensors } from '../../engine/train/whole-tensors';
import { chatText } from '../../engine/model/prompt';
import { ModelTokenizer, type ChatMessage } from '../../engine/model/tokenizer';
import { decoderLinearModules, isLoraTarget } from '../../engine/train/lora';
import type { Db } from '../../store/db';
import { pairsOf, responsesOf } from '../../store/rounds';
import { toJsonl } from '../export';
import { allPrompts } from '../phases/round-scope';
import { fixTrainingPairs } from '../phases/training';
import type { RunSettings } from '../settings';
import { answerTurn, type Templates } from '../templates';
import { copyScripts, frameTimes, jobHeader, placePolicy, placeVideos, startJobDir, writeJson, type JobPlacement } from './job-files';
import { outsideRound } from './outside-round';
import { count } from '../../../shared/plural';

/** The accelerate launch: one node, `gpus` processes, DeepSpeed ZeRO `zeroStage` (0: plain DDP). */
export interface TrlLaunch {
  gpus: number;
  zeroStage: 0 | 1 | 2 | 3;
}

/** One row of pairs.jsonl: TRL's conversational preference row, and what the studio built it from. */
export interface TrlJobRow {
  prompt: ChatMessage[];
  chosen: ChatMessage[];
  rejected: ChatMessage[];
  /** The prompt as the studio renders it (chat template, placeholders not expanded): what the job's collator tokenises. */
  prompt_text: string;
  video: string;
  frame_times: number[];
  pair_id: number;
  prompt_id: number;
  row_id: string;
}

export interface TrlJobResult {
  dir: string;
  pairs: number;
  files: string[];
  /** What the job cannot do as exported, in words (the launch's processes not dividing the run's batch). */
  warnings: string[];
}

const assistant = (text: string): ChatMessage[] => [{ role: 'assistant', content: [{ type: 'text', text }] }];

/** Refuses a round whose training cannot be handed out as it stands. */
function checkTrainable(db: Db, o: ReturnType<typeof outsideRound>): void {
  const where = `round ${o.round.round} of run ${o.run.id}`;
  if (o.round.review === 'awaiting') throw new ApiError('bad_input', `${where} awaits people's review: resume the run to release it (isr-studio run --resume ${o.run.id}); with outside.training it then stops for its training`);
  if (!['training', 'evaluation', 'done'].includes(o.round.phase) || pairsOf(db, o.round.id).length === 0) {
    throw new ApiError('bad_input', `${where} has no final pairs yet (it is at its ${o.round.phase} phase): run it to its training (isr-studio run --resume ${o.run.id})`);
  }
  // R-DPO's length penalty is the studio's own (docs/method.md): TRL's DPOConfig has no such field,
  // so the job could not train what the run's settings say.
  if (o.settings.train.lengthPenalty !== 0) throw new ApiError('bad_input', `run ${o.run.id} sets train.lengthPenalty ${o.settings.train.lengthPenalty}, which TRL's DPOTrainer has no field for: train this round in the studio`);
}

/** The decoder layers the run's targets select, as PEFT names them in the base model (for the README). */
const adaptedLayers = (config: ModelConfig, settings: RunSettings) => decoderLinearModules(config).filter((m) => isLoraTarget(m, settings.train.loraTargets)).length;

/** The run's DPO and LoRA settings under TRL's DPOConfig and PEFT's LoraConfig names (docs/method.md),
 *  which the script passes as they are; what depends on the machine (batch per process, precision,
 *  the warm-up's name in the installed transformers) it decides there. */
function trainSection(settings: RunSettings, config: ModelConfig, tokenizer: ModelTokenizer) {
  const t = settings.train;
  const saved = modulesToSave(wholeTensors(config, t));
  return {
    dpo_config: {
      // TRL >= 1 combines losses by list; the studio's SFT term (TRL's former rpo_alpha) is TRL's "sft" loss, weighted.
      loss_type: t.sftWeight > 0 ? [t.loss, 'sft'] : [t.loss],
      loss_weights: t.sftWeight > 0 ? [1, t.sftWeight] : [1],
      beta: t.beta,
      label_smoothing: 0,
      learning_rate: t.lr,
      num_train_epochs: t.epochs,
      lr_scheduler_type: 'cosine',
      weight_decay: 0,
      max_grad_norm: 1,
      max_length: t.maxLength,
      truncation_mode: 'keep_start',
      gradient_checkpointing: true,
      seed: settings.seed,
    },
    warmup_ratio: 0.1,
    // Pairs per optimizer update, as the studio counts them; the script divides them among the processes.
    pairs_per_update: t.batchSize,
    // Each response ends with this token, as the studio trains it (isr/training-example.ts).
    completion_end_token_id: tokenizer.stopTokenIds()[0],
    lora_config: {
      r: t.loraR,
      lora_alpha: t.loraAlpha,
      lora_dropout: 0,
      modules_to_save: saved.length === 0 ? null : saved,
      use_rslora: false,
      bias: 'none',
      task_type: 'CAUSAL_LM',
    },
    // LoraConfig.target_modules: these names, matched in the language model's decoder layers only (the
    // studio never adapts the vision tower, whose layers share the names).
    lora_targets: t.loraTargets,
    decoder_layers_adapted: adaptedLayers(config, settings),
  };
}

export function writeTrlJob(db: Db, o: { runId: number; round: number; out: string; launch: TrlLaunch; placement: JobPlacement }): TrlJobResult {
  const round = outsideRound(db, o.runId, o.round);
  checkTrainable(db, round);
  const trained = fixTrainingPairs(db, round.round.id);
  if (trained.length === 0) throw new ApiError('bad_input', `round ${o.round} of run ${o.runId} has no pair to train on: every pair is a tie or both bad`);
  const dir = startJobDir(o.out, 'trl-job');
  const config = readModelConfig(round.policy.path);
  const tokenizer = ModelTokenizer.load(round.policy.path);
  const family = familyOf(config);
  const { frames } = round.settings;
  const prompts = new Map(allPrompts(db, round.run.datasetId).map((p) => [p.id, p]));
  const promptOf = new Map(pairsOf(db, round.round.id).map((p) => [p.id, p.promptId]));
  const texts = new Map(responsesOf(db, round.round.id).map((r) => [r.id, r.text]));
  const used = trained.map((t) => prompts.get(promptOf.get(t.pairId)!)!);
  const videos = placeVideos(dir, used.map((p) => p.video), o.placement.copyVideos);
  const rows: TrlJobRow[] = trained.map((t, i) => {
    const p = used[i];
    const messages = answerTurn(round.round.templates as Templates, p.question);
    return {
      prompt: family.promptMessages(messages, frames),
      chosen: assistant(texts.get(t.chosenResponseId)!),
      rejected: assistant(texts.get(t.rejectedResponseId)!),
      prompt_text: chatText(tokenizer, config, messages, frames, { addGenerationPrompt: true }),
      video: videos.get(p.video.id)!,
      frame_times: frameTimes(p.video, frames),
      pair_id: t.pairId,
      prompt_id: p.id,
      row_id: p.rowId,
    };
  });
  writeFileSync(join(dir, 'pairs.jsonl'), toJsonl(rows));
  const policy = placePolicy(dir, round.policy.path, o.placement.copyModel);
  const job = {
    ...jobHeader('trl-job', round, policy),
    modality: family.placeholdersFor(2) === 1 ? 'video' : 'image',
    dataset: 'pairs.jsonl',
    output_dir: 'output',
    train: trainSection(round.settings, config, tokenizer),
  };
  writeJson(join(dir, 'job.json'), job);
  copyScripts(dir, ['train_dpo.py', 'isr_job.py']);
  writeFileSync(join(dir, 'accelerate.yaml'), accelerateConfig(o.launch));
  writeFileSync(join(dir, 'requirements.txt'), trlRequirements);
  writeFileSync(join(dir, 'README.md'), trlReadme(round, job.train, o.launch, rows.length, policy, launchWarnings(job.train.pairs_per_update, o.launch)));
  return { dir, pairs: rows.length, files: ['README.md', 'job.json', 'pairs.jsonl', 'train_dpo.py', 'isr_job.py', 'accelerate.yaml', 'requirements.txt'], warnings: launchWarnings(job.train.pairs_per_update, o.launch) };
}

/** The run trains a fixed number of pairs per update; processes that cannot share it evenly make the script stop. */
function launchWarnings(pairs: number, l: TrlLaunch): string[] {
  if (pairs % l.gpus === 0) return [];
  return [`the run trains ${count(pairs, 'pair')} per update, which the ${l.gpus} processes of accelerate.yaml cannot share evenly: train_dpo.py stops unless launched with a process count dividing ${pairs} (accelerate launch --num_processes N), or given --per-device-batch-size (then each update sees that many pairs per process, not the run's ${pairs})`];
}

/** accelerate's config for one machine and `gpus` processes: DeepSpeed ZeRO at the stage asked, or plain DDP (stage 0). */
export function accelerateConfig(l: TrlLaunch): string {
  const deepspeed = l.zeroStage === 0 ? [] : [
    'deepspeed_config:',
    '  deepspeed_multinode_launcher: standard',
    '  offload_optimizer_device: none',
    '  offload_param_device: none',
    `  zero3_init_flag: ${l.zeroStage === 3}`,
    ...(l.zeroStage === 3 ? ['  zero3_save_16bit_model: true'] : []),
    `  zero_stage: ${l.zeroStage}`,
  ];
  return [
    `# One machine, ${l.gpus} GPU process(es), ${l.zeroStage === 0 ? 'PyTorch DDP' : `DeepSpeed ZeRO stage ${l.zeroStage}`}; bf16 as the script trains.`,
    '# Another GPU count: accelerate launch --config_file accelerate.yaml --num_processes N train_dpo.py',
    'compute_environment: LOCAL_MACHINE',
    'debug: false',
    ...deepspeed,
    `distributed_type: ${l.zeroStage === 0 ? (l.gpus > 1 ? 'MULTI_GPU' : 'NO') : 'DEEPSPEED'}`,
    "downcast_bf16: 'no'",
    ...(l.zeroStage === 0 ? ['gpu_ids: all'] : []),
    'machine_rank: 0',
    'main_training_function: main',
    "mixed_precision: 'bf16'",
    'num_machines: 1',
    `num_processes: ${l.gpus}`,
    'rdzv_backend: static',
    'same_network: true',
    'tpu_env: []',
    'tpu_use_cluster: false',
    'tpu_use_sudo: false',
    'use_cpu: false',
    '',
  ].join('\n');
}

const trlRequirements = [
  '# What train_dpo.py was written against (TRL 1.x: DPOConfig.loss_type as a list with loss_weights).',
  'torch>=2.4',
  'transformers>=4.56',
  'trl>=1.0',
  'peft>=0.17',
  'accelerate>=1.4',
  'deepspeed>=0.16  # only for accelerate.yaml with a ZeRO stage',
  'datasets>=3.0',
  'numpy',
  '# and ffmpeg on PATH (or FFMPEG_PATH): frames are read as the studio reads them',
  '',
].join('\n');

function trlReadme(o: ReturnType<typeof outsideRound>, t: ReturnType<typeof trainSection>, l: TrlLaunch, pairs: number, policy: string, warnings: string[]): string {
  const d = t.dpo_config;
  const r = `round ${o.round.round} of run ${o.run.id}`;
  const launch = l.zeroStage === 0 && l.gpus === 1 ? 'python train_dpo.py' : 'accelerate launch --config_file accelerate.yaml train_dpo.py';
  return `# DPO training of ${r} (ISR Studio, trl-job)

This folder trains ${r} (an ISR-DPO run) on GPUs with TRL's \`DPOTrainer\` and a PEFT
LoRA adapter, on exactly the ${pairs} preference pairs the round trains on, with the run's settings.
The studio keeps everything else: the adapter comes back into it and the run goes on there.

## Run it

\`\`\`sh
pip install -r requirements.txt          # and ffmpeg on PATH
${launch}
\`\`\`

\`accelerate.yaml\` is one machine with ${l.gpus} GPU process(es), ${l.zeroStage === 0 ? 'plain DDP' : `DeepSpeed ZeRO stage ${l.zeroStage}`}
(export again with \`--gpus N --zero-stage 0|1|2|3\`, or pass \`--num_processes N\` to \`accelerate launch\`).
\`python train_dpo.py --help\` lists the few options (\`--model\` for a policy folder elsewhere,
\`--video-root\` for videos elsewhere, \`--dtype\`, \`--per-device-batch-size\`).
The starting policy is \`${policy}\`${policy === 'policy' ? ' (in this folder)' : ': copy it to this machine and pass `--model DIR`'}.
${warnings.map((w) => `\n**Note:** ${w}.\n`).join('')}
## What it writes

\`output/\`: \`adapter_config.json\` and \`adapter_model.safetensors\` (PEFT), \`metrics.jsonl\` (every
logged step under TRL's names: loss, rewards/chosen, rewards/rejected, rewards/accuracies,
rewards/margins, logps/chosen, logps/rejected, ...), \`isr_studio.json\` (which run, round and policy
it trained, with what batch), and the processor files TRL saves beside the adapter.

## Bring it back

\`\`\`sh
isr-studio import-adapter --db studio.db --run ${o.run.id} --round ${o.round.round} --adapter output
isr-studio run --db studio.db --resume ${o.run.id}
\`\`\`

\`import-adapter\` checks the adapter against the round's policy (base model, adapted modules and
their shapes, rank, alpha, projector) and refuses one that does not fit, naming what differs; then it
merges it into the round's output model as the studio's own training does, and keeps its metrics for
the History charts. \`run --resume\` evaluates the round and goes on with the next one.

## The settings (from the run, under TRL's and PEFT's names)

| setting | value |
|---|---|
| \`DPOConfig.loss_type\` / \`loss_weights\` | ${JSON.stringify(d.loss_type)} / ${JSON.stringify(d.loss_weights)} |
| \`DPOConfig.beta\` | ${d.beta} |
| \`DPOConfig.learning_rate\` | ${d.learning_rate} (cosine, warm-up ratio ${t.warmup_ratio}, weight decay ${d.weight_decay}, gradient clipping ${d.max_grad_norm}) |
| \`DPOConfig.num_train_epochs\` | ${d.num_train_epochs} |
| pairs per update | ${t.pairs_per_update} (\`per_device_train_batch_size\` x processes; the script refuses a process count that does not divide it, unless \`--per-device-batch-size\` says otherwise) |
| \`DPOConfig.max_length\` | ${d.max_length} (\`truncation_mode="keep_start"\`: a long response loses its end; the prompt and its video are never cut) |
| \`DPOConfig.seed\` | ${d.seed} |
| reference model | the round's policy itself: PEFT's base model with the adapter disabled |
| \`LoraConfig.r\` / \`lora_alpha\` / \`lora_dropout\` | ${t.lora_config.r} / ${t.lora_config.lora_alpha} / 0 |
| \`LoraConfig.target_modules\` | ${t.lora_targets.join(', ')}: ${t.decoder_layers_adapted} linear layers of the language model's decoder, never the vision tower's |
| \`LoraConfig.modules_to_save\` | ${t.lora_config.modules_to_save === null ? 'none (the projector, embeddings and head stay frozen)' : t.lora_config.modules_to_save.join(', ')} |
| frames | ${o.settings.frames} per video, read at the times in \`pairs.jsonl\` |

Each row of \`pairs.jsonl\` is TRL's conversational preference row (\`prompt\`, \`chosen\`, \`rejected\`)
with the video (\`video\`, \`frame_times\`), the prompt as the studio renders it (\`prompt_text\`) and
the studio's ids (\`pair_id\`, \`prompt_id\`, \`row_id\`). TRL's own collators take images, not videos,
so the script brings a collator that reads the frames and builds each sequence as the studio does:
the rendered prompt through the model's processor, each response followed by token
${t.completion_end_token_id}.
`;
}
