// Everything a training run needs to take exactly the step it would have taken had it not been
// interrupted: the step count (the schedule's position and AdamW's bias-correction t), the trainable
// tensors and their moments, the data generator's state, and this epoch's order and position.
// Saved as one safetensors file (the tensors, float32, bit-exact) and train_state.json naming it;
// the JSON is renamed into place last, so a crash at any point leaves the previous state loadable.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ApiError } from '../../../shared/errors';
import { Rng } from '../generate/sampling';
import { SafetensorsFile, writeAtomically, writeSafetensors, type TensorToWrite } from '../graph/safetensors';

/** A float32 tensor held by the host, row-major. */
export interface HostTensor {
  dims: readonly number[];
  data: Float32Array;
}

export interface TrainState {
  /** Optimizer steps taken; the next update uses lrAt(schedule, step) and AdamW t = step + 1. */
  step: number;
  /** Trainable tensors by graph input name, and their AdamW moments (torch's exp_avg, exp_avg_sq). */
  params: Record<string, HostTensor>;
  m: Record<string, HostTensor>;
  v: Record<string, HostTensor>;
  /** Rng.state() of the generator that orders the data. */
  rng: number[];
  epoch: number;
  /** This epoch's order of example indices, and where the next batch starts in it. */
  order: number[];
  cursor: number;
}

/** Fisher-Yates with the run's generator. */
function shuffled(rng: Rng, n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** Step 0: zero moments and the first epoch's order drawn from `rng` (which is then saved). */
export function newTrainState(params: Record<string, HostTensor>, datasetSize: number, rng: Rng): TrainState {
  if (!(Number.isInteger(datasetSize) && datasetSize > 0)) throw new Error(`newTrainState: dataset size must be a whole number > 0, got ${datasetSize}`);
  const zeros = () => Object.fromEntries(Object.entries(params).map(([k, t]) => [k, { dims: [...t.dims], data: new Float32Array(t.data.length) }]));
  return { step: 0, params, m: zeros(), v: zeros(), order: shuffled(rng, datasetSize), rng: rng.state(), epoch: 0, cursor: 0 };
}

/**
 * The example indices of the next batch, advancing the state. An epoch's last batch may be short
 * (as a DataLoader without drop_last); the next call reshuffles for a new epoch.
 */
export function nextBatch(state: TrainState, batchSize: number): number[] {
  if (state.cursor >= state.order.length) {
    const rng = Rng.fromState(state.rng);
    state.order = shuffled(rng, state.order.length);
    state.rng = rng.state();
    state.epoch += 1;
    state.cursor = 0;
  }
  const batch = state.order.slice(state.cursor, state.cursor + batchSize);
  state.cursor += batch.length;
  return batch;
}

export const STATE_FILE = 'train_state.json';
const FORMAT = 'isr-studio-train-state';
const groups = { params: 'params', m: 'exp_avg', v: 'exp_avg_sq' } as const;

const stateJson = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  tensors: z.string().regex(/^train_state-\d+\.safetensors$/),
  step: z.number().int().min(0),
  epoch: z.number().int().min(0),
  cursor: z.number().int().min(0),
  order: z.array(z.number().int().min(0)),
  rng: z.array(z.number().int().min(0).max(0xffffffff)).length(4),
});


export function saveState(dir: string, state: TrainState): void {
  fs.mkdirSync(dir, { recursive: true });
  const tensorsFile = `train_state-${String(state.step).padStart(8, '0')}.safetensors`;
  const tensors: Record<string, TensorToWrite> = {};
  for (const [key, prefix] of Object.entries(groups) as [keyof typeof groups, string][]) {
    for (const [name, t] of Object.entries(state[key])) tensors[`${prefix}/${name}`] = { dtype: 'F32', shape: t.dims, data: t.data };
  }
  writeSafetensors(path.join(dir, tensorsFile), tensors);
  const { step, epoch, cursor, order, rng } = state;
  writeAtomically(path.join(dir, STATE_FILE), [Buffer.from(`${JSON.stringify({ format: FORMAT, version: 1, tensors: tensorsFile, step, epoch, cursor, order, rng })}\n`, 'utf8')]);
  // Only now is the previous tensors file unreferenced.
  for (const f of fs.readdirSync(dir)) if (/^train_state-\d+\.safetensors$/.test(f) && f !== tensorsFile) fs.rmSync(path.join(dir, f), { force: true });
}

export function loadState(dir: string): TrainState {
  const file = path.join(dir, STATE_FILE);
  let parsed;
  try {
    parsed = stateJson.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch (err) {
    throw new ApiError('bad_input', `training state ${file} cannot be read: ${(err as Error).message}`, { file });
  }
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ApiError('bad_input', `training state ${file}: ${issue.path.join('.') || 'file'}: ${issue.message}`, { file });
  }
  const json = parsed.data;
  const state: TrainState = { step: json.step, epoch: json.epoch, cursor: json.cursor, order: json.order, rng: json.rng, params: {}, m: {}, v: {} };
  const tensors = SafetensorsFile.open(path.join(dir, json.tensors));
  try {
    for (const name of tensors.names()) {
      const slash = name.indexOf('/');
      const key = (Object.keys(groups) as (keyof typeof groups)[]).find((k) => groups[k] === name.slice(0, slash));
      const info = tensors.info(name);
      if (key === undefined || info.dtype !== 'F32') {
        throw new ApiError('bad_input', `${tensors.path}: unexpected tensor '${name}' (${info.dtype})`, { file: tensors.path, tensor: name });
      }
      state[key][name.slice(slash + 1)] = { dims: info.shape, data: tensors.read(name) as Float32Array };
    }
  } finally {
    tensors.close();
  }
  for (const name of Object.keys(state.params)) {
    if (state.m[name] === undefined || state.v[name] === undefined) throw new ApiError('bad_input', `${dir}: '${name}' has no saved moments`, { file: dir });
  }
  return state;
}

/** On a resumed run, drops metric lines of steps the saved state does not include (they run again). */
export function keepLoggedSteps(metricsFile: string, stateDir: string): void {
  if (!fs.existsSync(metricsFile)) return;
  const saved = fs.existsSync(path.join(stateDir, STATE_FILE)) ? loadState(stateDir).step : 0;
  const kept = fs.readFileSync(metricsFile, 'utf8').split('\n').filter((l) => l.trim() !== '' && (JSON.parse(l) as { step: number }).step <= saved);
  fs.writeFileSync(metricsFile, kept.map((l) => `${l}\n`).join(''));
}
