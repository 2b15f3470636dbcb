// What runs in an engine process: every task that calls ONNX Runtime, by name. Each opens what it
// needs itself (the database, the model), so nothing but its input and progress crosses the boundary.
import type { JobOverall } from '../../shared/jobs';
import { runProgress } from '../isr/phases/round-scope';
import { runRounds } from '../isr/run';
import { trainDemoModel, type DemoModelOptions } from '../demo/demo-model';
import { join } from 'node:path';
import { openDatabase } from '../store/db';
import { claimEngineLock } from './engine-lock';

export interface EngineTaskContext {
  signal: AbortSignal;
  progress(phase: string, done: number, total: number, detail?: string, overall?: JobOverall): void;
}

export interface RunTaskInput {
  runId: number;
  dbPath: string;
  ffmpeg: string;
  cacheDir: string;
  runsDir: string;
}

export const engineTasks = {
  /** An ISR-DPO run (or its resumption): it writes every item to the database as it is made. */
  async run(input: RunTaskInput, ctx: EngineTaskContext) {
    const release = await claimEngineLock(join(input.runsDir, `run-${input.runId}.engine-pid`));
    const db = openDatabase(input.dbPath);
    try {
      const outcome = await runRounds(input.runId, {
        db, ffmpeg: input.ffmpeg, cacheDir: input.cacheDir, runsDir: input.runsDir, signal: ctx.signal,
        onProgress: (p) => ctx.progress(`round ${p.round}: ${p.phase}`, p.done, p.total, p.detail, runProgress(p)),
      });
      return { runId: input.runId, ...outcome };
    } finally {
      db.close();
      release();
    }
  },

  /** `isr-studio demo-model`: the demo's warm start (resumable from its own training state). */
  demoModel(input: Omit<DemoModelOptions, 'onProgress'>, ctx: EngineTaskContext) {
    return trainDemoModel({ ...input, onProgress: ctx.progress });
  },
};

export type EngineTasks = typeof engineTasks;
export type EngineTaskName = keyof EngineTasks;
export type TaskInput<N extends EngineTaskName> = Parameters<EngineTasks[N]>[0];
export type TaskResult<N extends EngineTaskName> = Awaited<ReturnType<EngineTasks[N]>>;
