// REPORT.md of a finished ablation study, from its database and its record (isr/study.ts): the
// figures of each mode's run, how the study was run (the command, the code, the machine, the time
// each mode took), what the data and the starting policy were, and the claims' verdicts in a line
// each for the terminal.
import type { RunMode } from '../../shared/types';
import { runFigures } from '../isr/experiment';
import type { RunSettings } from '../isr/settings';
import { runKey, type StudyState } from '../isr/study';
import type { Db } from '../store/db';
import { countPrompts } from '../store/prompts';
import { claims, writeExperimentReport } from './experiment-report';
import { machineDescription } from './machine';

export interface StudyReport {
  out: string;
  db: Db;
  study: StudyState;
  modes: readonly RunMode[];
  /** The options as given, for the report's command line. */
  given: { data: string; model: string; out: string; config?: string };
  /** The resolved starting policy, its family, and the parsed settings. */
  model: string;
  family: string;
  /** How the starting policy was made, when known (the demo's warm start says). */
  warmStart: string | null;
  settings: RunSettings;
  datasetId: number;
  evalDatasetId: number;
  started: Date;
}

/** Writes REPORT.md and its charts into `out`; returns the files written and the claims' verdicts as plain lines. */
export function writeStudyReport(r: StudyReport): { files: string[]; verdicts: string } {
  const figures = r.study.seeds.flatMap((seed) => r.modes.map((m) => runFigures(r.db, r.study.runs[runKey(m, seed)]!)));
  const seconds = Object.fromEntries(r.modes.map((m) => [m, r.study.seconds[m] ?? 0]));
  const { given } = r;
  const files = writeExperimentReport(r.out, figures, {
    command: `isr-studio experiment --data ${given.data} --model ${given.model} --rounds ${r.study.rounds} --modes ${r.modes.join(',')} --seeds ${r.study.seeds.join(',')} --out ${given.out}${given.config ? ` --config ${given.config}` : ''}`,
    code: r.study.code, ...machineDescription(), date: r.started.toISOString().slice(0, 10),
    seconds, totalSeconds: Object.values(seconds).reduce((s, x) => s + x, 0),
    data: { dir: given.data, trainQuestions: countPrompts(r.db, r.datasetId), testQuestions: countPrompts(r.db, r.evalDatasetId) },
    model: { dir: given.model, family: r.family, warmStart: r.warmStart }, rounds: r.study.rounds, settings: r.settings,
  });
  return { files, verdicts: claims(figures).verdicts.join('\n') };
}
