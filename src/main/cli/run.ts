// `isr-studio run`: ISR-DPO rounds from the command line, on a studio database, resumable; and
// `isr-studio export`: a round's preference pairs as TRL DPO JSONL.
import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiError } from '../../shared/errors';
import type { ImportResult, RunResult } from '../../shared/types';
import { openStudio } from '../api/service';
import { childProcessEngine } from '../engine-host/child-process';
import { toJsonl, trlDpoRows } from '../isr/export';
import { parseRunSettings } from '../isr/settings';
import { runModes, type RunMode } from '../../shared/types';
import { openDatabase } from '../store/db';
import { progressPrinter } from './jobs';
import { choice, integer } from './options';

interface RunOptions {
  db: string;
  model?: string;
  data?: string;
  dataset?: string;
  evalData?: string;
  rounds?: number;
  mode: RunMode;
  config?: string;
  resume?: number;
}

type Studio = ReturnType<typeof openStudio>;

/** The --config file's settings object, or an error naming the file. */
export function readConfig(file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ApiError('bad_input', `run settings ${file} cannot be read: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError('bad_input', `run settings ${file} must hold a JSON object`);
  return value as Record<string, unknown>;
}

/** A dataset id: an imported dataset by name, or a file imported now (resuming an earlier import). */
export async function datasetOf(studio: Studio, file: string | undefined, name: string | undefined, what: string): Promise<number> {
  if (name !== undefined) {
    const found = (await studio.service.listDatasets({})).find((d) => d.name === name);
    if (!found) throw new ApiError('not_found', `no dataset named "${name}" in the database`);
    return found.id;
  }
  if (file === undefined) throw new ApiError('invalid_argument', `give ${what} as --data FILE or --dataset NAME`);
  const { jobId } = await studio.service.importDataset({ path: resolve(file) });
  // Quiet: a run's first output line is "run <id>", for scripts to read.
  const job = await studio.jobs.finished(jobId);
  if (job.state !== 'done') throw new ApiError('bad_input', job.error?.message ?? `import of ${file} ${job.state}`);
  return (job.result as ImportResult).datasetId;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .summary('run ISR-DPO rounds (sample, retrospect, self-judge, pairs, DPO, evaluate)')
    .description(
      'run ISR-DPO rounds on a studio database: its first line is "run <id>", then progress and a summary per round. ' +
        'Every item is stored as it is made; `--resume <id>` continues a stopped or killed run from what the database holds. ' +
        'With "review": "before-training" in --config, each round stops once its pairs are made and the command exits 0 saying so; ' +
        '`--resume <id>` then trains that round on the verdicts people gave (Review screen, `isr-studio override`) and goes on. ' +
        'Frames and vision features are cached beside the database (<db>.cache), trained models go to <db>.runs/.',
    )
    .requiredOption('--db <file>', 'studio database (created if missing)')
    .option('--model <dir>', 'starting policy: a model folder')
    .option('--data <file>', 'training prompts (.jsonl or .json), imported into the database')
    .option('--dataset <name>', 'training prompts already imported, by name')
    .option('--eval-data <file>', 'held-out prompts for evaluation, imported into the database')
    .option('--rounds <n>', 'rounds to run', integer(1, 100))
    .option('--mode <mode>', runModes.join(', '), choice(runModes), 'isr')
    .option('--config <file>', 'run settings as JSON (samples, temperature, topP, tieBand, frames, train, ...)')
    .option('--resume <id>', 'continue run <id>', integer(1))
    .action(async (opts: RunOptions) => {
      // The same service and job the app uses: one code path for a run, wherever it starts.
      const studio = openStudio({ dbPath: resolve(opts.db), transport: 'in-process', engine: childProcessEngine() });
      try {
        let runId = opts.resume;
        let jobId: string;
        if (runId === undefined) {
          if (opts.model === undefined || opts.rounds === undefined) throw new ApiError('invalid_argument', 'a new run needs --model and --rounds (or --resume <id>)');
          const settings = opts.config === undefined ? {} : readConfig(opts.config);
          const datasetId = await datasetOf(studio, opts.data, opts.dataset, 'the training prompts');
          const evalDatasetId = opts.evalData === undefined ? null : await datasetOf(studio, opts.evalData, undefined, 'the evaluation prompts');
          ({ jobId, runId } = await studio.service.startRun({ model: opts.model, datasetId, evalDatasetId, rounds: opts.rounds, mode: opts.mode, settings: parseRunSettings(settings) }));
        } else {
          ({ jobId } = await studio.service.resumeRun({ runId }));
        }
        process.stdout.write(`run ${runId}\n`);
        const job = await studio.jobs.finished(jobId, progressPrinter());
        if (job.state !== 'done') throw new ApiError(job.error?.code ?? 'internal', job.error?.message ?? `run ${job.state}`);
        const result = job.result as RunResult;
        for (const s of result.rounds) {
          const agreement = s.agreement;
          process.stdout.write(
            `round ${s.round} done: ${s.pairs} pairs trained on, ${s.ties} ties${s.dropped === 0 ? '' : `, ${s.dropped} dropped as both bad`}, ${s.steps} steps` +
              `${s.accuracy === null ? '' : `, held-out accuracy ${(100 * s.accuracy).toFixed(1)}%`}` +
              `${s.meanTokens === null ? '' : `, mean answer ${s.meanTokens.toFixed(1)} tokens / ${s.meanWords!.toFixed(1)} words`}` +
              `${agreement === null ? '' : `, judge agreed with ${(100 * agreement.percent).toFixed(0)}% of ${agreement.n} people's verdicts${agreement.kappa === null ? '' : ` (kappa ${agreement.kappa.toFixed(2)})`}`}\n`,
          );
        }
        if (result.awaitingReview !== null) {
          const t = result.awaitingReview;
          process.stdout.write(
            `run ${runId}: round ${t} awaits review. Review its pairs in the studio (isr-studio serve --db ${opts.db}, Review),\n` +
              `or give verdicts with isr-studio override --db ${opts.db} --run ${runId} --round ${t} ...; then train it and go on with\n` +
              `  isr-studio run --db ${opts.db} --resume ${runId}\n`,
          );
          return;
        }
        process.stdout.write(`run ${runId} done: ${result.rounds.length} rounds\n`);
      } finally {
        await studio.close();
      }
    });

  program
    .command('export')
    .summary("a round's preference pairs as TRL DPO JSONL")
    .description("write the pairs of a round (people's verdicts applied, ties and both-bad pairs left out) as JSONL rows {prompt, chosen, rejected, video, pair_id}, the format `isr-studio train` and TRL take (TRL ignores pair_id; `isr-studio override --from` reads it)")
    .requiredOption('--db <file>', 'studio database')
    .requiredOption('--run <id>', 'run id', integer(1))
    .requiredOption('--round <n>', 'round number', integer(1))
    .option('--format <format>', 'trl-dpo', choice(['trl-dpo'] as const), 'trl-dpo')
    .requiredOption('--out <file>', 'JSONL file to write')
    .action(async (opts: { db: string; run: number; round: number; out: string }) => {
      const db = openDatabase(resolve(opts.db));
      try {
        const rows = trlDpoRows(db, opts.run, opts.round);
        writeFileSync(resolve(opts.out), toJsonl(rows));
        process.stdout.write(`wrote ${rows.length} pairs of run ${opts.run} round ${opts.round} to ${resolve(opts.out)}\n`);
      } finally {
        db.close();
      }
    });
}
