// `isr-studio experiment`: the ablation study. One run per mode, all from the same starting policy
// with the same settings and seed, on the data's train split, evaluated on its test split; then
// REPORT.md and PNG charts (src/main/report/experiment-report.ts). The runs live in
// --out/experiment.db and experiment.json records which run is which mode, so running the same
// command again resumes where it stopped and only writes the report when every run is done.
import type { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../../shared/errors';
import { runModes, type RunMode } from '../../shared/types';
import { openStudio } from '../api/service';
import type { DemoModelResult } from '../isr/demo-model';
import { runFigures } from '../isr/experiment';
import { parseRunSettings } from '../isr/settings';
import { VideoLanguageModel } from '../engine/model/vlm';
import { claims, writeExperimentReport } from '../report/experiment-report';
import { gitCommit, machineDescription } from '../report/machine';
import { countPrompts } from '../store/prompts';
import { openDatabase } from '../store/db';
import { progressPrinter, waitForJob } from './jobs';
import { defaultCacheDir } from './model-input';
import { integer } from './options';
import { datasetOf, readConfig } from './run';

interface ExperimentOptions {
  data: string;
  model: string;
  rounds: number;
  modes?: RunMode[];
  out: string;
  config?: string;
  cache: string;
}

/** What experiment.json holds: the study's inputs (a resumed study must match them) and its runs. */
interface StudyState {
  model: string;
  data: string;
  rounds: number;
  settings: Record<string, unknown>;
  runs: Partial<Record<RunMode, number>>;
  seconds: Partial<Record<RunMode, number>>;
  /** The code each invocation started on, a new entry only when it differs from the last. */
  code: ({ commit: string; dirty: boolean } | null)[];
}

function modeList(value: string): RunMode[] {
  const modes = value.split(',').map((m) => m.trim()).filter(Boolean);
  const bad = modes.filter((m) => !(runModes as readonly string[]).includes(m));
  if (bad.length > 0) throw new ApiError('invalid_argument', `--modes: ${bad.join(', ')} ${bad.length === 1 ? 'is not a mode' : 'are not modes'}; choose from ${runModes.join(', ')}`);
  if (modes.length === 0) throw new ApiError('invalid_argument', '--modes names no mode');
  return [...new Set(modes)] as RunMode[];
}

/** The study folder's state, or a fresh one; a folder holding a study of other inputs is refused, not overwritten. */
function studyState(file: string, inputs: Omit<StudyState, 'runs' | 'seconds' | 'code'>): StudyState {
  if (!existsSync(file)) return { ...inputs, runs: {}, seconds: {}, code: [] };
  const saved = JSON.parse(readFileSync(file, 'utf8')) as StudyState;
  for (const key of ['model', 'data', 'rounds', 'settings'] as const) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(inputs[key])) {
      throw new ApiError('invalid_argument', `${file} is a study with another ${key} (${JSON.stringify(saved[key])}); give a new --out, or the same inputs to resume it`);
    }
  }
  return { ...saved, code: saved.code ?? [] };
}

/** What `demo-model` measured of the starting policy, when it made it. */
function warmStartNote(model: string): string | null {
  const file = join(model, 'training', 'summary.json');
  if (!existsSync(file)) return null;
  const s = JSON.parse(readFileSync(file, 'utf8')) as Partial<DemoModelResult>;
  if (typeof s.accuracy !== 'number' || typeof s.judgeAccuracy !== 'number') return null;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const reading = s.readingSteps && s.readingSteps.short + s.readingSteps.full > 0
    ? `${s.readingSteps.short} + ${s.readingSteps.full} reading steps on text-only judge items about synthetic scenes, a short prompt and then the judge template with a description (which favours the modes that show the judge one), then `
    : '';
  const judged = `judge accuracy ${pct(s.judgeAccuracy)} of ${s.judged} held-out judge items${typeof s.judgeDecided === 'number' ? ` (${pct(s.judgeDecided)} outside the tie band)` : ''}`;
  return `warm-started by \`isr-studio demo-model\` (${reading}${s.steps} SFT steps on ${s.examples} items): held-out accuracy ${pct(s.accuracy)} of ${s.answers} questions, ${judged}`;
}

export function registerExperiment(program: Command): void {
  program
    .command('experiment')
    .summary('ablation study: the same rounds in each mode from the same start, written up as REPORT.md with charts')
    .description(
      'run the same ISR-DPO rounds in each mode from the same starting policy and seed, on DIR/train.jsonl, evaluated on DIR/test.jsonl, and write ' +
        'REPORT.md and PNG charts into --out: held-out accuracy and mean answer length per round per mode, judge accuracy where ground truth ' +
        'decides a pair, the judge\'s visual-attention share, and the paper\'s two claims checked. Running the same command again resumes.',
    )
    .requiredOption('--data <dir>', 'demo data folder (train.jsonl, test.jsonl, videos/)')
    .requiredOption('--model <dir>', 'starting policy (e.g. from `isr-studio demo-model`)')
    .requiredOption('--rounds <n>', 'rounds per mode', integer(1, 100))
    .option('--modes <list>', `comma-separated modes (default: ${runModes.join(',')})`, modeList)
    .requiredOption('--out <dir>', 'study folder: database, runs, REPORT.md and charts')
    .option('--config <file>', 'run settings as JSON, the same for every mode (defaults otherwise)')
    .option('--cache <dir>', 'cache for frames and vision features', defaultCacheDir())
    .action(async (options: ExperimentOptions) => {
      const opts = { ...options, modes: options.modes ?? [...runModes] };
      const started = new Date();
      const [out, data, model] = [resolve(opts.out), resolve(opts.data), resolve(opts.model)];
      const settings = opts.config === undefined ? {} : readConfig(opts.config);
      const parsedSettings = parseRunSettings(settings, opts.config ?? 'settings');
      const family = VideoLanguageModel.check(model).arch;
      // Checked before anything is written, so a mistyped --data does not leave a study bound to it.
      for (const file of ['train.jsonl', 'test.jsonl']) {
        if (!existsSync(join(data, file))) throw new ApiError('bad_input', `${join(data, file)} not found: --data takes a folder written by \`isr-studio demo-data\``);
      }
      mkdirSync(out, { recursive: true });
      const stateFile = join(out, 'experiment.json');
      const state = studyState(stateFile, { model, data, rounds: opts.rounds, settings });
      const save = () => writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
      // Read at the start, since the code that runs is the code loaded now, whatever the tree holds by the end.
      const code = gitCommit(dirname(fileURLToPath(import.meta.url)));
      if (JSON.stringify(state.code.at(-1)) !== JSON.stringify(code)) state.code.push(code);
      save();

      let datasetId: number;
      let evalDatasetId: number;
      const studio = openStudio({ dbPath: join(out, 'experiment.db'), cacheDir: resolve(opts.cache), transport: 'ipc' });
      try {
        datasetId = await datasetOf(studio, join(data, 'train.jsonl'), undefined, 'the training prompts');
        evalDatasetId = await datasetOf(studio, join(data, 'test.jsonl'), undefined, 'the held-out prompts');
        for (const mode of opts.modes) {
          const runId = state.runs[mode];
          if (runId !== undefined && (await studio.service.listRuns({})).find((r) => r.id === runId)?.status === 'done') continue;
          // Time is recorded as the run goes, so a study killed and resumed still reports all it took.
          const [t0, before] = [Date.now(), state.seconds[mode] ?? 0];
          let savedAt = t0;
          const clock = (final = false) => {
            state.seconds[mode] = before + (Date.now() - t0) / 1000;
            if (final || Date.now() - savedAt > 10_000) {
              save();
              savedAt = Date.now();
            }
          };
          const { jobId } = runId === undefined
            ? await studio.service.startRun({ model, datasetId, evalDatasetId, rounds: opts.rounds, mode, settings })
                .then((r) => { state.runs[mode] = r.runId; save(); return r; })
            : await studio.service.resumeRun({ runId });
          process.stdout.write(`mode ${mode}: run ${state.runs[mode]}\n`);
          const print = progressPrinter();
          const job = await waitForJob(studio.jobs, jobId, (j) => {
            clock();
            print({ ...j, phase: `${mode} ${j.phase}` });
          });
          clock(true);
          if (job.state !== 'done') throw new ApiError(job.error?.code ?? 'internal', `mode ${mode}: ${job.error?.message ?? `run ${job.state}`}`);
        }
      } finally {
        await studio.close();
      }

      const db = openDatabase(join(out, 'experiment.db'));
      try {
        const figures = opts.modes.map((m) => runFigures(db, state.runs[m]!));
        const seconds = Object.fromEntries(opts.modes.map((m) => [m, state.seconds[m] ?? 0]));
        const files = writeExperimentReport(out, figures, {
          command: `isr-studio experiment --data ${opts.data} --model ${opts.model} --rounds ${opts.rounds} --modes ${opts.modes.join(',')} --out ${opts.out}${opts.config ? ` --config ${opts.config}` : ''}`,
          code: state.code, ...machineDescription(), date: started.toISOString().slice(0, 10),
          seconds, totalSeconds: Object.values(seconds).reduce((s, x) => s + x, 0),
          data: { dir: opts.data, trainQuestions: countPrompts(db, datasetId), testQuestions: countPrompts(db, evalDatasetId) },
          model: { dir: opts.model, family, warmStart: warmStartNote(model) }, rounds: opts.rounds, settings: parsedSettings,
        });
        process.stdout.write(`${claims(figures).slice(2).join('\n').replace(/\*\*/g, '')}\nwrote ${files.join(', ')} to ${out}\n`);
      } finally {
        db.close();
      }
    });
}
