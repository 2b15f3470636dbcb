// `isr-studio experiment`: the ablation study. One run per mode and seed, all from the same starting
// policy with the same settings, on the data's train split, evaluated on its test split; then
// REPORT.md and PNG charts, each claim decided across the seeds (report/experiment-report.ts). The study's record lives in src/main/isr/study.ts (--out/experiment.json
// says which run is which mode, so running the same command again resumes), its report in
// src/main/report/study-report.ts; here: the options, the runs through the studio's service, the lines.
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../../shared/errors';
import { runModes, type RunMode } from '../../shared/types';
import { openStudio } from '../api/service';
import { childProcessEngine } from '../engine-host/child-process';
import { VideoLanguageModel } from '../engine/model/vlm';
import { warmStartNote } from '../demo/demo-model';
import { parseRunSettings } from '../isr/settings';
import { runKey, Study, studyData } from '../isr/study';
import { gitCommit } from '../report/machine';
import { writeStudyReport } from '../report/study-report';
import { openDatabase } from '../store/db';
import { progressPrinter } from './jobs';
import { defaultCacheDir } from './model-input';
import { integer } from './options';
import { datasetOf, readConfig } from './run';

interface ExperimentOptions {
  data: string;
  model: string;
  rounds?: number;
  modes?: RunMode[];
  seeds?: number[];
  quick?: boolean;
  out: string;
  config?: string;
  cache: string;
}

function seedList(value: string): number[] {
  const seeds = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = seeds.filter((s) => !/^\d+$/.test(s) || Number(s) > 2 ** 31 - 1);
  if (bad.length > 0 || seeds.length === 0) throw new ApiError('invalid_argument', `--seeds: ${bad.length > 0 ? `${bad.join(', ')} is not a seed (a whole number from 0 to 2^31 - 1)` : 'names no seed'}`);
  return [...new Set(seeds.map(Number))];
}

function modeList(value: string): RunMode[] {
  const modes = value.split(',').map((m) => m.trim()).filter(Boolean);
  const bad = modes.filter((m) => !(runModes as readonly string[]).includes(m));
  if (bad.length > 0) throw new ApiError('invalid_argument', `--modes: ${bad.join(', ')} ${bad.length === 1 ? 'is not a mode' : 'are not modes'}; choose from ${runModes.join(', ')}`);
  if (modes.length === 0) throw new ApiError('invalid_argument', '--modes names no mode');
  return [...new Set(modes)] as RunMode[];
}

/** The study's sizes: the default decides the claims (docs/experiments/README.md), --quick shows the pipeline. */
const studySizes = {
  default: { rounds: 3, seeds: [1, 2, 3], modes: runModes },
  quick: { rounds: 2, seeds: [1, 2], modes: ['isr', 'text-judge'] },
} as const satisfies Record<string, { rounds: number; seeds: readonly number[]; modes: readonly RunMode[] }>;

export function registerExperiment(program: Command): void {
  program
    .command('experiment')
    .summary('ablation study: the same rounds in each mode from the same start, written up as REPORT.md with charts')
    .description(
      'run the same ISR-DPO rounds in each mode, once per seed, from the same starting policy, on DIR/train.jsonl, evaluated on DIR/test.jsonl, and write ' +
        'REPORT.md and PNG charts into --out: held-out accuracy and mean answer length per round per mode, judge accuracy where ground truth ' +
        'decides a pair, the judge\'s visual-attention share, and the paper\'s two claims checked. Running the same command again resumes.',
    )
    .requiredOption('--data <dir>', 'demo data folder (train.jsonl, test.jsonl, videos/)')
    .requiredOption('--model <dir>', 'starting policy (e.g. from `isr-studio demo-model`)')
    .option('--rounds <n>', `rounds per mode (default: ${studySizes.default.rounds})`, integer(1, 100))
    .option('--modes <list>', `comma-separated modes (default: ${studySizes.default.modes.join(',')})`, modeList)
    .option('--seeds <list>', `comma-separated seeds: each mode runs once per seed (the run settings' seed), and each claim is decided across them (default: ${studySizes.default.seeds.join(',')})`, seedList)
    .option('--quick', `a first look in about a fifth of the time: ${studySizes.quick.rounds} rounds, seeds ${studySizes.quick.seeds.join(',')}, modes ${studySizes.quick.modes.join(',')} (what --rounds, --seeds or --modes give still wins)`)
    .requiredOption('--out <dir>', 'study folder: database, runs, REPORT.md and charts')
    .option('--config <file>', 'run settings as JSON, the same for every mode (defaults otherwise)')
    .option('--cache <dir>', 'cache for frames and vision features', defaultCacheDir())
    .action(async (options: ExperimentOptions) => {
      const size = studySizes[options.quick === true ? 'quick' : 'default'];
      const opts = { ...options, rounds: options.rounds ?? size.rounds, modes: options.modes ?? [...size.modes], seeds: options.seeds ?? [...size.seeds] };
      const started = new Date();
      const [out, data, model] = [resolve(opts.out), resolve(opts.data), resolve(opts.model)];
      const settings = opts.config === undefined ? {} : readConfig(opts.config);
      const parsedSettings = parseRunSettings(settings, opts.config ?? 'settings');
      const family = VideoLanguageModel.check(model).arch;
      // Checked before anything is written, so a mistyped --data does not leave a study bound to it.
      const files = studyData(data);
      mkdirSync(out, { recursive: true });
      // Read at the start, since the code that runs is the code loaded now, whatever the tree holds by the end.
      const study = Study.open(out, { model, data, rounds: opts.rounds, seeds: opts.seeds, settings }, gitCommit(dirname(fileURLToPath(import.meta.url))));

      let datasetId: number;
      let evalDatasetId: number;
      const studio = openStudio({ dbPath: join(out, 'experiment.db'), cacheDir: resolve(opts.cache), transport: 'in-process', engine: childProcessEngine() });
      try {
        datasetId = await datasetOf(studio, files.train, undefined, 'the training prompts');
        evalDatasetId = await datasetOf(studio, files.test, undefined, 'the held-out prompts');
        // Seed by seed, so a study stopped early has whole seeds to compare.
        for (const seed of opts.seeds) {
          for (const mode of opts.modes) {
            const runId = study.runOf(mode, seed);
            if (runId !== undefined && (await studio.service.listRuns({})).find((r) => r.id === runId)?.status === 'done') continue;
            const clock = study.clock(mode);
            const { jobId } = runId === undefined
              ? await studio.service.startRun({ model, datasetId, evalDatasetId, rounds: opts.rounds, mode, settings: { ...parsedSettings, seed } })
                  .then((r) => { study.setRun(mode, seed, r.runId); return r; })
              : await studio.service.resumeRun({ runId });
            const label = runKey(mode, seed);
            process.stdout.write(`${label}: run ${study.runOf(mode, seed)}\n`);
            const print = progressPrinter();
            const job = await studio.jobs.finished(jobId, (j) => {
              clock();
              print({ ...j, phase: `${label} ${j.phase}` });
            });
            clock(true);
            if (job.state !== 'done') throw new ApiError(job.error?.code ?? 'internal', `${label}: ${job.error?.message ?? `run ${job.state}`}`);
          }
        }
      } finally {
        await studio.close();
      }

      const db = openDatabase(join(out, 'experiment.db'));
      try {
        const report = writeStudyReport({
          out, db, study: study.state, modes: opts.modes, given: opts, model, family, warmStart: warmStartNote(model), settings: parsedSettings, datasetId, evalDatasetId, started,
        });
        process.stdout.write(`${report.verdicts}\nwrote ${report.files.join(', ')} to ${out}\n`);
      } finally {
        db.close();
      }
    });
}
