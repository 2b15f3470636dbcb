// `isr-studio export`: a round's preference pairs as TRL DPO JSONL (the default format), or one of
// its steps as a job for another machine (docs/scale.md): `trl-job` (its DPO training with TRL and
// PEFT) and `vllm-job` (its responses with vLLM), each a folder that comes back with
// `import-adapter` or `import-responses` (cli/outside.ts).
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { count } from '../../shared/plural';
import { toJsonl, trlDpoRows } from '../isr/export';
import { writeTrlJob } from '../isr/outside/trl-job';
import { writeVllmJob } from '../isr/outside/vllm-job';
import { choice, integer, roundOptions } from './options';
import { openRunDatabase } from './studio-db';

const formats = ['trl-dpo', 'trl-job', 'vllm-job'] as const;

interface ExportOptions {
  db: string;
  run: number;
  round: number;
  format: (typeof formats)[number];
  out: string;
  gpus: number;
  zeroStage: number;
  copyVideos: boolean;
  copyModel: boolean;
}

export function registerExport(program: Command): void {
  const command = program
    .command('export')
    .summary("a round's preference pairs as TRL DPO JSONL, or a step of it as a job for TRL or vLLM")
    .description(
      "trl-dpo (default): write the pairs of a round (people's verdicts applied, ties and both-bad pairs left out) as JSONL rows {prompt, chosen, rejected, video, pair_id}, " +
        'the format `isr-studio train` and TRL take (TRL ignores pair_id; `isr-studio override --from` reads it). ' +
        "trl-job: write --out as a folder that trains the round with TRL's DPOTrainer and a PEFT LoRA adapter on GPUs (pairs, script, accelerate config, README); bring the adapter back with `import-adapter`. " +
        "vllm-job: write --out as a folder that samples the round's responses with vLLM (prompts, script, README); bring them back with `import-responses`. " +
        'A run whose settings set outside.training or outside.responses stops each round for these (docs/scale.md).',
    );
  roundOptions(command)
    .option('--format <format>', formats.join(', '), choice(formats), 'trl-dpo')
    .requiredOption('--out <path>', 'JSONL file to write (trl-dpo), or the job folder (trl-job, vllm-job)')
    .option('--gpus <n>', 'trl-job: GPU processes on the one machine (accelerate num_processes)', integer(1, 1024), 8)
    .option('--zero-stage <n>', 'trl-job: DeepSpeed ZeRO stage, 0 for plain DDP', integer(0, 3), 2)
    .option('--no-copy-videos', 'jobs: name the videos by their absolute paths here instead of linking or copying them into the job')
    .option('--no-copy-model', "jobs: name the round's policy by its absolute path here instead of linking or copying it into the job")
    .action(async (opts: ExportOptions) => {
      const db = openRunDatabase(opts.db);
      try {
        const placement = { copyVideos: opts.copyVideos, copyModel: opts.copyModel };
        if (opts.format === 'trl-job') {
          const job = writeTrlJob(db, { runId: opts.run, round: opts.round, out: opts.out, placement, launch: { gpus: opts.gpus, zeroStage: opts.zeroStage as 0 | 1 | 2 | 3 } });
          process.stdout.write(`wrote a trl-job of run ${opts.run} round ${opts.round} (${count(job.pairs, 'pair')}) to ${job.dir}: see its README.md\n`);
          for (const warning of job.warnings) process.stderr.write(`isr-studio: note: ${warning}\n`);
        } else if (opts.format === 'vllm-job') {
          const job = writeVllmJob(db, { runId: opts.run, round: opts.round, out: opts.out, placement });
          process.stdout.write(`wrote a vllm-job of run ${opts.run} round ${opts.round} (${count(job.prompts, 'prompt')}) to ${job.dir}: see its README.md\n`);
        } else {
          const rows = trlDpoRows(db, opts.run, opts.round);
          writeFileSync(resolve(opts.out), toJsonl(rows));
          process.stdout.write(`wrote ${count(rows.length, 'pair')} of run ${opts.run} round ${opts.round} to ${resolve(opts.out)}\n`);
        }
      } finally {
        db.close();
      }
    });
}
