// One training step as one ONNX graph: the caller's forward (with LoRA factors as graph inputs),
// its backward w.r.t. those factors (autodiff/differentiate.ts), gradient clipping and AdamW
// (adamw.ts). Plain onnxruntime-node runs it with one session.run per step.
//
// Where things live and what one step costs:
// - Frozen weights are initializers, loaded once with the session and never copied again; they get
//   no gradient buffers (only nodes between a LoRA input and the loss are differentiated).
// - Activations exist only inside session.run: each forward tensor a backward rule reads stays in
//   ORT's arena until its last backward consumer, so peak memory is about every saved activation of
//   the step at once, as PyTorch without checkpointing. For a decoder with L layers, hidden size h,
//   MLP size f, H heads and N = batch x seq tokens (chosen and rejected both count), that is roughly
//   4 bytes x N x L x (on the order of 10h + 4f + H x seq) in float32, the attention probabilities
//   dominating at long sequences; plus the head, where logits, log_softmax and the one-hot pick are
//   three N x vocab tensors and their cotangents as many again. Halve it with smaller micro-batches.
// - Everything else crosses the host boundary each step, because onnxruntime-node copies every input
//   in and every output back: the LoRA factors and both moments in (3 x P floats for P trainable
//   values), their updates out (3 x P), plus the data, the scalar loss, metrics and grad_norm. With
//   r = 16 on all seven projections of a 0.5B Qwen2 that is P of about 8.8M: ~106 MB each way.
import * as ort from 'onnxruntime-node';
import { differentiate, GRAD_PREFIX } from '../autodiff/differentiate';
import { GraphBuilder } from '../graph/builder';
import type { Graph, Value } from '../graph/ir';
import type { Projection } from '../graph/nn';
import { prune } from '../graph/prune';
import type { Session } from '../graph/session';
import { addAdamW, adamWDefaults, GRAD_NORM, updatedName, type AdamWHyper } from './adamw';
import { isLoraTarget, loraInputNames, loraScale, type LoraConfig, type LoraModule } from './lora';
import type { TrainState } from './state';

/** Gives a linear layer its LoRA factors (graph inputs), or undefined when it is not a target. */
export type LoraProvider = (module: string, inFeatures: number, outFeatures: number) => Projection['lora'];

/** Builds the forward and the scalar loss; metrics become graph outputs under their keys. */
export type ForwardFn = (b: GraphBuilder, lora: LoraProvider) => { loss: Value; metrics: Record<string, Value>; checkpoints?: readonly string[] };

export interface TrainStepOptions {
  lora: LoraConfig;
  optimizer?: Partial<Omit<AdamWHyper, 'lr' | 'step'>>;
  /** The graph's name, in errors and profiles. Default 'train_step'. */
  name?: string;
  /** Graph inputs the forward declares that are trained too (whole tensors, e.g. the projector's weights). */
  extraParams?: readonly string[];
  /** Micro-batches per update (default 1). Above 1 the step also takes `accumName(p)`: the summed
   *  gradients of the update's earlier micro-batches (from gradientGraph), and applies the mean. */
  accumulation?: number;
}

export const LOSS = 'loss';
export const LR_INPUT = 'lr';
export const STEP_INPUT = 'step';
export const momentNames = (param: string): { m: string; v: string } => ({ m: `${param}.m`, v: `${param}.v` });
export const accumName = (param: string): string => `${param}.grad_accum`;
/** int64 scalar fed each micro-batch when LoRA dropout is on: the masks are a function of it. */
export const DROPOUT_SEED = 'lora_dropout_seed';

const PRIME = 2147483647; // 2^31 - 1: Park-Miller's modulus; every product below stays exact in int64 and float64
const MULTIPLIER = 48271;

/**
 * Inverted dropout (PEFT's nn.Dropout on the adapter input) with masks computed inside the graph
 * from the seed, the module's salt and each element's index: no random op (ORT's RandomUniform
 * cannot be re-seeded per run) and nothing the size of the activations crosses the host boundary,
 * while the same seed gives the same masks, so a resumed run repeats them. The hash alternates
 * Park-Miller steps with a mix of the value's 16-bit halves (whose product makes it nonlinear, so
 * another seed gives an unrelated mask rather than a shifted one); every intermediate stays below
 * 2^53, exact in int64 and in the float64 reference interpreter alike.
 */
export function hashDropout(b: GraphBuilder, x: Value, seed: Value, salt: number, p: number): Value {
  return b.scope('dropout', () => {
    const index = b.reshape(b.range(b.scalar(0, 'int64'), b.size(x), b.scalar(1, 'int64')), b.shape(x), x.shape);
    const seedMix = b.mod(b.add(b.mul(b.mod(seed, PRIME), 7919), salt * 104729 + 1), PRIME);
    let h = b.mod(b.add(b.mul(index, MULTIPLIER), seedMix), PRIME);
    for (let round = 0; round < 3; round++) {
      const lo = b.mod(h, 65536);
      const hi = b.div(b.sub(h, lo), 65536);
      h = b.mod(b.add(b.add(b.mul(lo, MULTIPLIER), b.mul(hi, 69621)), b.add(b.mul(lo, hi), round * 7 + 1)), PRIME);
      h = b.mod(b.mul(h, MULTIPLIER), PRIME);
    }
    const keep = 1 - p;
    const u = b.div(b.cast(h, x.dtype), PRIME);
    return b.mul(x, b.div(b.cast(b.less(u, keep), x.dtype), keep));
  });
}

/** The forward as a graph of its own: LoRA factors as inputs, `loss` and the metrics as outputs. */
export interface LossGraph {
  graph: Graph;
  /** Adapted layers, in the order the forward asked for them. */
  modules: LoraModule[];
  /** Trainable graph inputs: each module's A then B (names from loraInputNames). */
  params: string[];
  /** The forward's own inputs (ids, labels, masks, reference log-probs, ...) the caller feeds. */
  dataInputs: string[];
  /** Metric output names (the forward's keys). */
  metrics: string[];
  /** Node-name prefixes of the segments the backward recomputes (gradient checkpointing; differentiate.ts). */
  checkpoints: readonly string[];
}

/** Builds `forward` with a LoRA provider that makes each targeted module's factors graph inputs. */
export function buildLossGraph(forward: ForwardFn, cfg: LoraConfig, name = 'loss', extraParams: readonly string[] = []): LossGraph {
  const b = new GraphBuilder(name);
  const scale = loraScale(cfg);
  const adapted = new Map<string, { module: LoraModule; a: Value; b: Value }>();
  // One seed input for the whole graph; each module salts it with its own number.
  let seed: Value | undefined;
  const dropout = (salt: number) => {
    if (cfg.dropout === 0) return undefined;
    seed ??= b.input(DROPOUT_SEED, 'int64', []);
    const s = seed;
    return (x: Value) => hashDropout(b, x, s, salt, cfg.dropout);
  };
  const provider: LoraProvider = (module, inFeatures, outFeatures) => {
    if (!isLoraTarget(module, cfg.targets)) return undefined;
    let entry = adapted.get(module);
    if (entry === undefined) {
      const names = loraInputNames(module);
      entry = {
        module: { module, inFeatures, outFeatures },
        a: b.input(names.a, 'float32', [inFeatures, cfg.r]),
        b: b.input(names.b, 'float32', [cfg.r, outFeatures]),
      };
      adapted.set(module, entry);
    } else if (entry.module.inFeatures !== inFeatures || entry.module.outFeatures !== outFeatures) {
      throw new Error(`${name}: ${module} asked for as ${inFeatures}x${outFeatures} and as ${entry.module.inFeatures}x${entry.module.outFeatures}`);
    }
    const drop = dropout([...adapted.keys()].indexOf(module));
    return { a: entry.a, b: entry.b, scale, ...(drop ? { dropout: drop } : {}) };
  };
  const { loss, metrics, checkpoints = [] } = forward(b, provider);
  if (adapted.size === 0) throw new Error(`${name}: no module of the forward matches the LoRA targets ${JSON.stringify(cfg.targets)}`);
  b.output(loss, LOSS);
  for (const [metric, v] of Object.entries(metrics)) b.output(v, metric);
  const graph = b.build();
  // Whole tensors the forward declared as inputs to train beside the adapters (the projector).
  const missing = extraParams.find((p) => !graph.inputs.some((i) => i.name === p));
  if (missing !== undefined) throw new Error(`${name}: '${missing}' is to be trained but the forward has no input of that name`);
  const params = [...[...adapted.values()].flatMap((e) => [e.a.name, e.b.name]), ...extraParams];
  const trainable = new Set(params);
  return {
    graph, modules: [...adapted.values()].map((e) => e.module), params,
    dataInputs: graph.inputs.map((i) => i.name).filter((n) => !trainable.has(n)), metrics: Object.keys(metrics), checkpoints,
  };
}

/**
 * The loss graph plus its backward, clipping and AdamW. Feed dataInputs, params, momentNames(p) of
 * each, LR_INPUT and STEP_INPUT (the 1-based AdamW step); read LOSS, the metrics, GRAD_NORM and
 * updatedName(p) of each param (runTrainStep does both).
 */
export type TrainStep = LossGraph;

export function buildTrainStep(forward: ForwardFn, options: TrainStepOptions): TrainStep {
  if (!(options.lora.dropout >= 0 && options.lora.dropout < 1)) throw new Error(`buildTrainStep: LoRA dropout must be in [0, 1), got ${options.lora.dropout}`);
  const fwd = buildLossGraph(forward, options.lora, options.name ?? 'train_step', options.extraParams);
  const withGrads = differentiate(fwd.graph, { loss: LOSS, wrt: fwd.params, checkpoints: fwd.checkpoints });
  // The gradients feed the optimizer inside the graph; as outputs they would be copied to the host.
  const gradOutputs = new Set(fwd.params.map((p) => GRAD_PREFIX + p));
  const t = GraphBuilder.extend({ ...withGrads, outputs: withGrads.outputs.filter((o) => !gradOutputs.has(o.name)) });
  const lr = t.input(LR_INPUT, 'float32', []);
  const step = t.input(STEP_INPUT, 'float32', []);
  const k = options.accumulation ?? 1;
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`buildTrainStep: accumulation must be a whole number >= 1, got ${k}`);
  addAdamW(t, fwd.params.map((name) => {
    const value = t.value(name);
    const moments = momentNames(name);
    const own = t.value(GRAD_PREFIX + name);
    // Each micro-batch's loss is a batch mean, so the update's gradient is the mean over micro-batches.
    const grad = k === 1 ? own : t.mul(t.add(own, t.input(accumName(name), 'float32', value.shape)), 1 / k);
    return { name, value, grad, m: t.input(moments.m, 'float32', value.shape), v: t.input(moments.v, 'float32', value.shape) };
  }), { ...adamWDefaults, ...options.optimizer, lr, step });
  return { ...fwd, graph: prune(t.build()) };
}

/** The loss graph with its gradients as outputs (`grad.<p>`): the earlier micro-batches of an update. */
export function gradientGraph(loss: LossGraph): Graph {
  return differentiate(loss.graph, { loss: LOSS, wrt: loss.params, checkpoints: loss.checkpoints });
}

/** Opens an ONNX Runtime session on a graph, with the run's execution providers and threads. */
export type OpenSession = (graph: Graph) => Promise<Session>;

export interface StepResult {
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  metrics: Record<string, number>;
}

const scalar = (t: ort.Tensor): number => Number((t.data as Float32Array)[0]);

/**
 * Runs one update: feeds the state's tensors, `data` and this step's learning rate, then moves the
 * updated tensors into `state` and advances its step.
 */
export async function runTrainStep(session: Session, ts: TrainStep, state: TrainState, data: Record<string, ort.Tensor>, lr: number): Promise<StepResult> {
  const feeds: Record<string, ort.Tensor> = { ...data };
  const f32 = (x: Float32Array | number, dims: readonly number[]) => new ort.Tensor('float32', typeof x === 'number' ? Float32Array.of(x) : x, [...dims]);
  for (const p of ts.params) {
    const [value, m, v] = [state.params[p], state.m[p], state.v[p]];
    if (value === undefined || m === undefined || v === undefined) throw new Error(`runTrainStep: the training state has no '${p}' (or its moments)`);
    const moments = momentNames(p);
    feeds[p] = f32(value.data, value.dims);
    feeds[moments.m] = f32(m.data, m.dims);
    feeds[moments.v] = f32(v.data, v.dims);
  }
  feeds[LR_INPUT] = f32(lr, []);
  feeds[STEP_INPUT] = f32(state.step + 1, []);
  const out = await session.run(feeds);
  for (const p of ts.params) {
    const names = updatedName(p);
    state.params[p] = { dims: state.params[p].dims, data: out[names.value].data as Float32Array };
    state.m[p] = { dims: state.m[p].dims, data: out[names.m].data as Float32Array };
    state.v[p] = { dims: state.v[p].dims, data: out[names.v].data as Float32Array };
  }
  state.step += 1;
  return {
    loss: scalar(out[LOSS]),
    gradNorm: scalar(out[GRAD_NORM]),
    metrics: Object.fromEntries(ts.metrics.map((k) => [k, scalar(out[k])])),
  };
}
