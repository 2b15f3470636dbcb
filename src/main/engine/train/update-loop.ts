// The updates of a run: each one micro-batch (or, with gradient accumulation, several: the earlier
// ones' gradients summed by a gradient graph, the last run by the train-step graph that applies
// their mean), the learning rate from the schedule, metrics under TRL's names, a stop when the
// loss stops being a number, and the state saved so a killed run resumes exactly where it was.
import * as ort from 'onnxruntime-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../../../shared/errors';
import { Rng } from '../generate/sampling';
import type { Session } from '../graph/session';
import { GRAD_NORM } from './adamw';
import type { PreferenceCollator } from './collator';
import { initLora, loraInputNames } from './lora';
import { trlMetrics } from './losses';
import { lrAt, warmupSteps, type Schedule } from './schedule';
import { loadState, newTrainState, nextBatch, saveState, STATE_FILE, type HostTensor, type TrainState } from './state';
import { trainsOnPairs, type TrainConfig } from './train-config';
import { accumName, buildLossGraph, buildTrainStep, DROPOUT_SEED, gradientGraph, LOSS, runTrainStep, type ForwardFn, type OpenSession, type TrainStep } from './train-step';

/** One update's metrics: TRL's names (DPO) or loss alone (SFT), plus grad_norm, learning_rate, epoch and tokens/s. */
export type StepMetrics = { step: number } & Record<string, number>;

/** The TRL metric names a DPO step reports, for printing in a fixed order. */
export const dpoMetricNames = [LOSS, ...trlMetrics, GRAD_NORM, 'learning_rate', 'tokens/s'] as const;

export interface TrainOptions {
  /** referenceLogps' result (DPO only). */
  reference?: Float32Array;
  onStep?: (m: StepMetrics) => void;
  signal?: AbortSignal;
  /** Save the state every this many updates (default 10), and always at the end. */
  saveEvery?: number;
  /** Stop after this many updates in all (for tests of resumption); default: the whole run. */
  stopAfter?: number;
}

/** What the updates need from the run. */
export interface UpdateRun {
  settings: TrainConfig;
  collator: PreferenceCollator;
  forward: ForwardFn;
  /** Whole tensors trained beside the adapters, and their starting values (asked for only on a fresh start). */
  wholeTensors: readonly string[];
  startingValue: (name: string) => HostTensor;
  examples: number;
  totalSteps: number;
  stateDir: string;
  openSession: OpenSession;
}

/**
 * A micro-batch's LoRA dropout seed: a function of (seed, step, micro-batch) only, so a resumed run
 * draws the same dropout masks.
 */
export const dropoutSeed = (seed: number, step: number, micro: number): bigint => BigInt(seed) * 1000003n + BigInt(step) * 1024n + BigInt(micro);

/** Trains to the end, to `stopAfter`, or until `signal` aborts, resuming from the state folder's state if one is there. */
export async function runUpdates(run: UpdateRun, options: TrainOptions = {}): Promise<TrainState> {
  const s = run.settings;
  if (trainsOnPairs(s) && options.reference?.length !== 2 * run.examples) {
    throw new Error(`training needs reference log-probs for all ${run.examples} examples (from referenceLogps)`);
  }
  const step = buildTrainStep(run.forward, { lora: s.lora, optimizer: { weightDecay: s.weightDecay, maxGradNorm: s.maxGradNorm }, accumulation: s.gradientAccumulation, extraParams: run.wholeTensors });
  const stepSession = await run.openSession(step.graph);
  const gradSession = s.gradientAccumulation > 1 ? await run.openSession(gradientGraph(buildLossGraph(run.forward, s.lora, 'micro_batch', run.wholeTensors))) : null;
  const state = existsSync(join(run.stateDir, STATE_FILE)) ? loadState(run.stateDir) : startingState(run, step);
  const schedule: Schedule = { kind: s.schedule, lr: s.lr, warmupSteps: warmupSteps(s.warmupRatio, run.totalSteps), totalSteps: run.totalSteps };
  const stopAt = Math.min(run.totalSteps, options.stopAfter ?? Infinity);
  try {
    while (state.step < stopAt) {
      if (options.signal?.aborted) throw new ApiError('cancelled', `training cancelled before step ${state.step + 1}`);
      const metrics = await update(run, step, { stepSession, gradSession }, state, schedule, options.reference);
      if (!Number.isFinite(metrics[LOSS]) || !Number.isFinite(metrics[GRAD_NORM])) {
        throw new ApiError('internal', `training diverged at step ${state.step}: loss ${metrics[LOSS]}, grad_norm ${metrics[GRAD_NORM]}; lower the learning rate`);
      }
      options.onStep?.(metrics);
      if (state.step % (options.saveEvery ?? 10) === 0 || state.step === stopAt) saveState(run.stateDir, state);
    }
  } finally {
    await Promise.all([stepSession.release(), gradSession?.release()]);
  }
  return state;
}

/** Step 0: fresh LoRA factors (A random, B zero) from the run's seed, whole tensors at their starting values. */
function startingState(run: UpdateRun, step: TrainStep): TrainState {
  const rng = new Rng(run.settings.seed);
  const params: TrainState['params'] = {};
  for (const m of step.modules) {
    const f = initLora(rng, m, run.settings.lora.r);
    const names = loraInputNames(m.module);
    params[names.a] = f.a;
    params[names.b] = f.b;
  }
  for (const name of run.wholeTensors) params[name] = run.startingValue(name);
  return newTrainState(params, run.examples, rng);
}

/** The next update's micro-batches; an update never straddles epochs, so it may have fewer. */
function microBatches(state: TrainState, settings: TrainConfig): number[][] {
  const micro: number[][] = [];
  for (let k = 0; k < settings.gradientAccumulation; k++) {
    if (k > 0 && state.cursor >= state.order.length) break;
    micro.push(nextBatch(state, settings.batchSize));
  }
  return micro;
}

/** Takes one update, advancing `state`, and returns its metrics (means over its micro-batches). */
async function update(
  run: UpdateRun,
  step: TrainStep,
  sessions: { stepSession: Session; gradSession: Session | null },
  state: TrainState,
  schedule: Schedule,
  reference: Float32Array | undefined,
): Promise<StepMetrics> {
  const s = run.settings;
  const started = performance.now();
  const micro = microBatches(state, s);
  let micros = 0;
  const feedsOf = async (indices: number[]) => {
    const rows = await run.collator.batch(indices, reference);
    if (s.lora.dropout > 0) rows.feeds[DROPOUT_SEED] = new ort.Tensor('int64', BigInt64Array.of(dropoutSeed(s.seed, state.step, micros++)), []);
    return rows;
  };
  let tokens = 0;
  const sums: Record<string, number> = {};
  const accum = new Map<string, Float32Array>();
  for (const indices of micro.slice(0, -1)) {
    const rows = await feedsOf(indices);
    tokens += rows.tokens;
    const out = await sessions.gradSession!.run({ ...rows.feeds, ...Object.fromEntries(step.params.map((p) => [p, new ort.Tensor('float32', state.params[p].data, [...state.params[p].dims])])) });
    for (const key of [LOSS, ...step.metrics]) sums[key] = (sums[key] ?? 0) + Number((out[key].data as Float32Array)[0]);
    for (const p of step.params) {
      const g = out[`grad.${p}`].data as Float32Array;
      const acc = accum.get(p);
      if (acc) for (let i = 0; i < g.length; i++) acc[i] += g[i];
      else accum.set(p, Float32Array.from(g));
    }
  }
  const last = await feedsOf(micro[micro.length - 1]);
  tokens += last.tokens;
  if (s.gradientAccumulation > 1) {
    // A short final update (fewer micro-batches) still divides by the configured count: zeros stand in.
    for (const p of step.params) last.feeds[accumName(p)] = new ort.Tensor('float32', accum.get(p) ?? new Float32Array(state.params[p].data.length), [...state.params[p].dims]);
  }
  const lr = lrAt(schedule, state.step);
  const result = await runTrainStep(sessions.stepSession, step, state, last.feeds, lr);
  sums[LOSS] = (sums[LOSS] ?? 0) + result.loss;
  for (const key of step.metrics) sums[key] = (sums[key] ?? 0) + result.metrics[key];
  const metrics: StepMetrics = { step: state.step };
  for (const [key, total] of Object.entries(sums)) metrics[key] = total / micro.length;
  return Object.assign(metrics, { [GRAD_NORM]: result.gradNorm, learning_rate: lr, epoch: state.epoch + state.cursor / run.examples, 'tokens/s': tokens / ((performance.now() - started) / 1000) });
}
