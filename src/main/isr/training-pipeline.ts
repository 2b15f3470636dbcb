// The one training pipeline (rounds, `isr-studio train`, the demo's warm start): the trainer over
// the examples, the reference log-probs a DPO-family loss needs (only those not kept from before),
// the updates with their state saved every step (so a killed run resumes), then the PEFT adapter
// and the merged model folder.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { VideoLanguageModel } from '../engine/model/vlm';
import { keepLoggedSteps } from '../engine/train/state';
import type { TrainConfig, TrainExample } from '../engine/train/train-config';
import { Trainer } from '../engine/train/trainer';
import type { StepMetrics } from '../engine/train/update-loop';

/**
 * Where reference log-probs outlive a run: a round keeps them per response in the store, the CLI in
 * a file. A reference log-prob is the summed log-prob of one response after its prompt under the
 * starting policy, so it holds whatever else changes (an override flipping a pair, a resume).
 */
export interface ReferenceCache {
  /** Kept log-probs of example i's chosen and rejected responses, null for one not kept. */
  kept(example: number): { chosen: number | null; rejected: number | null };
  /** The ones computed now, handed over batch by batch as the reference pass makes them. */
  keep(computed: readonly { example: number; chosen: number; rejected: number }[]): void;
}

export interface TrainingJob {
  /** The starting policy, loaded from `from`; also the DPO reference. */
  model: VideoLanguageModel;
  from: string;
  examples: readonly TrainExample[];
  settings: TrainConfig;
  /** The resumable training state. */
  stateDir: string;
  /** Absent: computed every time (DPO-family losses only). */
  reference?: ReferenceCache;
  /** A JSONL of every step's metrics, trimmed on resume to the steps the saved state holds. */
  metricsFile?: string;
  /** Where the adapter (PEFT) and the merged model folder go; either may be left out. */
  adapterDir?: string;
  mergedDir?: string;
  signal?: AbortSignal;
  /** The reference pass: (0, n) before it starts, then after each batch; not called when all were kept. */
  onReference?: (done: number, total: number) => void;
  onStep?: (m: StepMetrics, totalSteps: number) => void;
  /** Updates between saves of the state (default 1: a kill loses nothing). */
  saveEvery?: number;
}

export interface TrainingOutcome {
  steps: number;
  /** The last step taken by this call (null when the saved state was already finished). */
  final: StepMetrics | null;
}

export async function runTraining(job: TrainingJob): Promise<TrainingOutcome> {
  mkdirSync(dirname(job.stateDir), { recursive: true });
  // The examples hold their features and training builds its own graphs: the sessions for frames
  // and for generation would only hold memory (the vision tower's weights, the decoder's own copy).
  await job.model.releaseVision();
  await job.model.lm.releaseDecoder();
  const trainer = Trainer.create(job.model, job.examples, job.settings, job.stateDir);
  const reference = job.settings.loss === 'sft' ? undefined : await referenceLogps(job, trainer);
  if (job.metricsFile !== undefined) keepLoggedSteps(job.metricsFile, job.stateDir);
  let final: StepMetrics | null = null;
  const state = await trainer.train({
    reference, signal: job.signal, saveEvery: job.saveEvery ?? 1,
    onStep: (m) => {
      final = m;
      if (job.metricsFile !== undefined) appendFileSync(job.metricsFile, `${JSON.stringify(m)}\n`);
      job.onStep?.(m, trainer.totalSteps);
    },
  });
  if (job.adapterDir !== undefined) trainer.writeAdapter(job.adapterDir, state, job.from);
  if (job.mergedDir !== undefined) trainer.writeMerged(job.mergedDir, job.from, state);
  return { steps: state.step, final };
}

/** [chosen..., rejected...] of every example: the kept ones, and the rest computed in one pass
 *  over just those examples (all of them, in order, the first time), each batch kept as it comes. */
async function referenceLogps(job: TrainingJob, trainer: Trainer): Promise<Float32Array> {
  const n = job.examples.length;
  const out = new Float32Array(2 * n);
  const missing: number[] = [];
  for (let i = 0; i < n; i++) {
    const kept = job.reference?.kept(i) ?? { chosen: null, rejected: null };
    if (kept.chosen === null || kept.rejected === null) missing.push(i);
    else [out[i], out[n + i]] = [kept.chosen, kept.rejected];
  }
  if (missing.length === 0) return out;
  const m = missing.length;
  job.onReference?.(0, m);
  const pass = m === n ? trainer : Trainer.create(job.model, missing.map((i) => job.examples[i]), job.settings, job.stateDir);
  // Each batch is kept as it comes, so a run killed during the pass keeps what it computed.
  await pass.referenceLogps((done, total, batch) => {
    const found = batch.examples.map((k, j) => ({ example: missing[k], chosen: batch.chosen[j], rejected: batch.rejected[j] }));
    for (const f of found) [out[f.example], out[n + f.example]] = [f.chosen, f.rejected];
    job.reference?.keep(found);
    job.onReference?.(done, total);
  });
  return out;
}
