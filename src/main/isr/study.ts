// An ablation study's own record (`isr-studio experiment`): its inputs, which run is which mode and seed, the
// wall-clock time each mode took (summed over resumptions) and the code each invocation ran on, kept
// in experiment.json in the study folder so a study killed and started again resumes where it stopped.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../../shared/errors';
import type { RunMode } from '../../shared/types';

/** What a resumed study must match. */
export interface StudyInputs {
  model: string;
  data: string;
  rounds: number;
  /** Each mode runs once per seed (the run settings' seed). */
  seeds: number[];
  settings: Record<string, unknown>;
}

export type CodeVersion = { commit: string; dirty: boolean } | null;

/** What experiment.json holds. */
export interface StudyState extends StudyInputs {
  /** Run ids by runKey(mode, seed). */
  runs: Record<string, number>;
  seconds: Partial<Record<RunMode, number>>;
  /** The code each invocation started on, a new entry only when it differs from the last. */
  code: CodeVersion[];
}

/** The data files of a study folder written by `isr-studio demo-data`, checked to be there. */
export function studyData(data: string): { train: string; test: string } {
  const files = { train: join(data, 'train.jsonl'), test: join(data, 'test.jsonl') };
  for (const file of Object.values(files)) {
    if (!existsSync(file)) throw new ApiError('bad_input', `${file} not found: --data takes a folder written by \`isr-studio demo-data\``);
  }
  return files;
}

export const runKey = (mode: RunMode, seed: number): string => `${mode} seed ${seed}`;

/** How often a running mode's time is written out (it is always written when the mode ends). */
const saveEveryMs = 10_000;

export class Study {
  private constructor(
    private readonly file: string,
    readonly state: StudyState,
  ) {}

  /** The study in folder `out`, or a fresh one, with `code` recorded; a folder holding a study of
   *  other inputs is refused, not overwritten. */
  static open(out: string, inputs: StudyInputs, code: CodeVersion): Study {
    const file = join(out, 'experiment.json');
    const study = new Study(file, existsSync(file) ? resumed(file, inputs) : { ...inputs, runs: {}, seconds: {}, code: [] });
    if (JSON.stringify(study.state.code.at(-1)) !== JSON.stringify(code)) study.state.code.push(code);
    study.save();
    return study;
  }

  runOf(mode: RunMode, seed: number): number | undefined {
    return this.state.runs[runKey(mode, seed)];
  }

  setRun(mode: RunMode, seed: number, runId: number): void {
    this.state.runs[runKey(mode, seed)] = runId;
    this.save();
  }

  /** Starts timing `mode` now, on top of its earlier time; call the result as the run goes (at
   *  least every few seconds it writes the time out) and with `final` when it ends, so a study
   *  killed and resumed still reports all it took. */
  clock(mode: RunMode): (final?: boolean) => void {
    const [t0, before] = [Date.now(), this.state.seconds[mode] ?? 0];
    let savedAt = t0;
    return (final = false) => {
      this.state.seconds[mode] = before + (Date.now() - t0) / 1000;
      if (final || Date.now() - savedAt > saveEveryMs) {
        this.save();
        savedAt = Date.now();
      }
    };
  }

  private save(): void {
    writeFileSync(this.file, `${JSON.stringify(this.state, null, 2)}\n`);
  }
}

function resumed(file: string, inputs: StudyInputs): StudyState {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as StudyState;
  for (const key of ['model', 'data', 'rounds', 'seeds', 'settings'] as const) {
    if (JSON.stringify(saved[key]) !== JSON.stringify(inputs[key])) {
      throw new ApiError('invalid_argument', `${file} is a study with another ${key} (${JSON.stringify(saved[key])}); give a new --out, or the same inputs to resume it`);
    }
  }
  return { ...saved, code: saved.code ?? [] };
}
