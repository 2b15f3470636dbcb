// `isr-studio run`: ISR-DPO rounds from the command line, on a studio database, resumable
// (`isr-studio export`, a round's pairs or a job of it: cli/export.ts).
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiError, fileProblem, jsonProblem } from '../../shared/errors';
import { count } from '../../shared/plural';
import type { ImportResult, RunResult } from '../../shared/types';
import { openStudio } from '../api/service';
import { childProcessEngine } from '../engine-host/child-process';
import { parseRunSettings, type RunSettings } from '../isr/settings';
import { runModes, type RunMode } from '../../shared/types';
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
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ApiError('bad_input', fileProblem(err, 'run settings file', file));
  }
  let value: unknown;
  try {
    // A byte-order mark, as some Windows editors write (dataset files accept one too).
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    throw new ApiError('bad_input', `run settings ${file} are not valid JSON: ${jsonProblem(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError('bad_input', `run settings ${file} must hold a JSON object`);
  return value as Record<string, unknown>;
}

/** The run's settings from --config (defaults without one), checked, every bad field named with the file. */
export function readRunSettings(file: string | undefined): RunSettings {
  return file === undefined ? parseRunSettings({}) : parseRunSettings(readConfig(file), `run settings ${file}`);
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
    .option('--model <dir>', 'starting policy: a model folder (a new run needs it)')
    .option('--data <file>', 'training prompts (.jsonl or .json), imported into the database')
    .option('--dataset <name>', 'training prompts already imported, by name')
    .option('--eval-data <file>', 'held-out prompts for evaluation, imported into the database (default: none, no evaluation)')
    .option('--rounds <n>', 'rounds to run, 1 to 100 (a new run needs it)', integer(1, 100))
    .option('--mode <mode>', runModes.join(', '), choice(runModes), 'isr')
    .option('--config <file>', 'run settings as JSON (samples, temperature, topP, tieBand, frames, train, ...; default: every setting\'s default, docs/method.md)')
    .option('--resume <id>', 'continue run <id>', integer(1))
    .action(async (opts: RunOptions) => {
      // The same service and job the app uses: one code path for a run, wherever it starts.
      const studio = openStudio({ dbPath: resolve(opts.db), transport: 'in-process', engine: childProcessEngine() });
      try {
        let runId = opts.resume;
        let jobId: string;
        if (runId === undefined) {
          if (opts.model === undefined || opts.rounds === undefined) throw new ApiError('invalid_argument', 'a new run needs --model and --rounds (or --resume <id>)');
          // Checked before any dataset is imported: a bad settings file changes nothing in the database.
          const settings = readRunSettings(opts.config);
          const datasetId = await datasetOf(studio, opts.data, opts.dataset, 'the training prompts');
          const evalDatasetId = opts.evalData === undefined ? null : await datasetOf(studio, opts.evalData, undefined, 'the evaluation prompts');
          ({ jobId, runId } = await studio.service.startRun({ model: opts.model, datasetId, evalDatasetId, rounds: opts.rounds, mode: opts.mode, settings }));
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
            `round ${s.round} done: ${count(s.pairs, 'pair')} trained on, ${count(s.ties, 'tie')}${s.dropped === 0 ? '' : `, ${s.dropped} dropped as both bad`}, ${count(s.steps, 'step')}` +
              `${s.accuracy === null ? '' : `, held-out accuracy ${(100 * s.accuracy).toFixed(1)}%`}` +
              `${s.meanTokens === null ? '' : `, mean answer ${s.meanTokens.toFixed(1)} tokens / ${s.meanWords!.toFixed(1)} words`}` +
              `${agreement === null ? '' : `, judge agreed with ${(100 * agreement.percent).toFixed(0)}% of ${count(agreement.n, "person's verdict", "people's verdicts")}${agreement.kappa === null ? '' : ` (kappa ${agreement.kappa.toFixed(2)})`}`}\n`,
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
        if (result.awaitingOutside !== null) {
          const { round: t, step } = result.awaitingOutside;
          const [format, bring] = step === 'responses' ? ['vllm-job', 'import-responses --file DIR/responses.jsonl'] : ['trl-job', 'import-adapter --adapter DIR/output'];
          process.stdout.write(
            `run ${runId}: round ${t} awaits its ${step} from outside the studio (run settings outside.${step}). Export the job with\n` +
              `  isr-studio export --db ${opts.db} --run ${runId} --round ${t} --format ${format} --out DIR\n` +
              `run it as DIR/README.md says, bring the result back with\n  isr-studio ${bring} --db ${opts.db} --run ${runId} --round ${t}\n` +
              `and go on with\n  isr-studio run --db ${opts.db} --resume ${runId}\n`,
          );
          return;
        }
        process.stdout.write(`run ${runId} done: ${count(result.rounds.length, 'round')}\n`);
      } finally {
        await studio.close();
      }
    });
}
