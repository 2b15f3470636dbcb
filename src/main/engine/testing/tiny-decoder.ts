// A tiny Llama-style decoder and DPO training over it, for the training specs and benchmarks:
// seeded random frozen weights (initializers, HF names in MatMul layout), LoRA on the seven
// projections through the provider, preference batches laid out as TRL's concatenated_forward does
// (rows [0, P) chosen, [P, 2P) rejected, labels shifted, loss mask on response tokens only), and a
// whole run in ONNX Runtime.
import { randomTensor, rng } from './gradcheck';
import { ortFeeds } from './ort-check';
import { GraphBuilder } from '../graph/builder';
import type { Graph, Value } from '../graph/ir';
import { causalMask, decoderLayer, rmsNorm, rotaryCosSin } from '../graph/nn';
import { serialize } from '../graph/onnx';
import { tensor64, type Feeds, type Tensor64 } from '../graph/reference';
import { Session } from '../graph/session';
import { Rng } from '../generate/sampling';
import { sequenceLogps } from '../train/logprobs';
import { dpoLoss, sftLoss, type DpoConfig } from '../train/losses';
import { initLora, loraInputNames, type LoraConfig } from '../train/lora';
import { lrAt, type Schedule } from '../train/schedule';
import { newTrainState, nextBatch, type HostTensor, type TrainState } from '../train/state';
import { buildTrainStep, runTrainStep, type ForwardFn, type LoraProvider, type StepResult, type TrainStep, type TrainStepOptions } from '../train/train-step';

export interface TinyDims { vocab: number; hidden: number; heads: number; kvHeads: number; headDim: number; intermediate: number; layers: number }

export const tinyDims: TinyDims = { vocab: 11, hidden: 8, heads: 4, kvHeads: 2, headDim: 2, intermediate: 12, layers: 2 };

/** Emits the decoder into `b` and returns logits [batch, seq, vocab]. */
export type TinyDecoder = (b: GraphBuilder, lora: LoraProvider, ids: Value, positions: Value) => Value;

export function tinyDecoder(seed: number, d: TinyDims = tinyDims): TinyDecoder {
  const rand = rng(seed);
  const weights = new Map<string, { dims: number[]; data: Float32Array }>();
  const make = (name: string, dims: number[], scale: number, offset = 0) =>
    weights.set(name, { dims, data: Float32Array.from(randomTensor(rand, 'float32', dims).data, (v) => offset + scale * v) });
  const q = d.heads * d.headDim;
  const kv = d.kvHeads * d.headDim;
  const projections = (l: number): [string, number, number][] => [
    [`model.layers.${l}.self_attn.q_proj`, d.hidden, q], [`model.layers.${l}.self_attn.k_proj`, d.hidden, kv],
    [`model.layers.${l}.self_attn.v_proj`, d.hidden, kv], [`model.layers.${l}.self_attn.o_proj`, q, d.hidden],
    [`model.layers.${l}.mlp.gate_proj`, d.hidden, d.intermediate], [`model.layers.${l}.mlp.up_proj`, d.hidden, d.intermediate],
    [`model.layers.${l}.mlp.down_proj`, d.intermediate, d.hidden],
  ];
  make('model.embed_tokens.weight', [d.vocab, d.hidden], 1);
  for (let l = 0; l < d.layers; l++) {
    for (const [module, i, o] of projections(l)) make(`${module}.weight`, [i, o], 0.4);
    make(`model.layers.${l}.input_layernorm.weight`, [d.hidden], 0.2, 1);
    make(`model.layers.${l}.post_attention_layernorm.weight`, [d.hidden], 0.2, 1);
  }
  make('model.norm.weight', [d.hidden], 0.2, 1);
  make('lm_head.weight', [d.hidden, d.vocab], 1);

  return (b, lora, ids, positions) => {
    const w = (name: string) => {
      const t = weights.get(name)!;
      return b.initializer(name, 'float32', t.dims, t.data);
    };
    const proj = (module: string, i: number, o: number) => ({ weight: w(`${module}.weight`), lora: lora(module, i, o) });
    const cfg = { heads: d.heads, kvHeads: d.kvHeads, headDim: d.headDim, rmsEps: 1e-6 };
    const rotary = rotaryCosSin(b, positions, d.headDim, 10000);
    const mask = causalMask(b, positions, positions);
    let h = b.scope('embed_tokens', () => b.gather(w('model.embed_tokens.weight'), ids, 0));
    for (let l = 0; l < d.layers; l++) {
      const [qp, kp, vp, op, gp, up, dp] = projections(l).map(([m, i, o]) => proj(m, i, o));
      h = b.scope(`layers.${l}`, () => decoderLayer(b, h, {
        q: qp, k: kp, v: vp, o: op, gate: gp, up, down: dp,
        inputNorm: w(`model.layers.${l}.input_layernorm.weight`), postNorm: w(`model.layers.${l}.post_attention_layernorm.weight`),
      }, cfg, { rotary, mask }));
    }
    return b.scope('lm_head', () => b.matmul(rmsNorm(b, h, w('model.norm.weight'), cfg.rmsEps), w('lm_head.weight')));
  };
}

/** Input names of a preference batch. */
export const batchInputs = {
  ids: 'input_ids', positions: 'position_ids', labels: 'labels', mask: 'loss_mask', refChosen: 'ref_chosen_logps', refRejected: 'ref_rejected_logps',
} as const;

function declareBatch(b: GraphBuilder, decoder: TinyDecoder, lora: LoraProvider) {
  const ids = b.input(batchInputs.ids, 'int64', ['batch', 'seq']);
  const positions = b.input(batchInputs.positions, 'int64', ['batch', 'seq']);
  const labels = b.input(batchInputs.labels, 'int64', ['batch', 'seq']);
  const mask = b.input(batchInputs.mask, 'float32', ['batch', 'seq']);
  return sequenceLogps(b, decoder(b, lora, ids, positions), labels, mask);
}

/** The DPO (+ optional SFT and length terms) forward over a concatenated chosen/rejected batch. */
export function dpoForward(decoder: TinyDecoder, cfg: DpoConfig): ForwardFn {
  return (b, lora) => {
    const logps = declareBatch(b, decoder, lora);
    const refChosen = b.input(batchInputs.refChosen, 'float32', ['pairs']);
    const refRejected = b.input(batchInputs.refRejected, 'float32', ['pairs']);
    const halves = (v: Value) => b.split(v, 2, 0);
    const [policyChosen, policyRejected] = halves(logps.sum);
    const [chosenLength, rejectedLength] = halves(logps.count);
    const chosenNll = cfg.sftWeight ? sftLoss(b, { sum: policyChosen, count: chosenLength }) : undefined;
    return dpoLoss(b, { policyChosen, policyRejected, refChosen, refRejected, chosenLength, rejectedLength, chosenNll }, cfg);
  };
}

/** Forward only, no LoRA: each row's summed response log-prob, output 'logps' (the reference pass). */
export function logpsGraph(decoder: TinyDecoder): Graph {
  const b = new GraphBuilder('reference_logps');
  b.output(declareBatch(b, decoder, () => undefined).sum, 'logps');
  return b.build();
}

export interface Preference { prompt: number[]; chosen: number[]; rejected: number[] }

/**
 * The batch tensors for `pairs`: prompt + response per row, right-padded with token 0 to the longest
 * row (the causal mask keeps padding out of earlier positions); labels[t] = ids[t + 1]; the mask is
 * 1 where labels[t] is a response token.
 */
export function preferenceBatch(pairs: readonly Preference[]): Record<string, Tensor64> {
  const rows = [...pairs.map((p) => ({ prompt: p.prompt, response: p.chosen })), ...pairs.map((p) => ({ prompt: p.prompt, response: p.rejected }))];
  const seq = Math.max(...rows.map((r) => r.prompt.length + r.response.length));
  const ids: number[] = [];
  const labels: number[] = [];
  const mask: number[] = [];
  const positions: number[] = [];
  for (const { prompt, response } of rows) {
    const tokens = [...prompt, ...response];
    for (let t = 0; t < seq; t++) {
      ids.push(tokens[t] ?? 0);
      positions.push(t);
      labels.push(tokens[t + 1] ?? 0);
      mask.push(t + 1 >= prompt.length && t + 1 < tokens.length ? 1 : 0);
    }
  }
  const dims = [rows.length, seq];
  return {
    [batchInputs.ids]: tensor64('int64', dims, ids), [batchInputs.positions]: tensor64('int64', dims, positions),
    [batchInputs.labels]: tensor64('int64', dims, labels), [batchInputs.mask]: tensor64('float32', dims, mask),
  };
}

/** Runs `graph` in ONNX Runtime (float32, CPU) through Session on reference feeds; outputs as float64. */
export async function runInSession(graph: Graph, feeds: Feeds): Promise<Record<string, Float64Array>> {
  const session = await Session.create(serialize(graph), { graphName: graph.name });
  try {
    const out = await session.run(ortFeeds(graph, feeds));
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, Float64Array.from(t.data as ArrayLike<number | bigint>, Number)]));
  } finally {
    await session.release();
  }
}

export interface TinyRunOptions {
  pairs: readonly Preference[];
  dpo: DpoConfig;
  lora: LoraConfig;
  schedule: Schedule;
  batchSize: number;
  optimizer?: TrainStepOptions['optimizer'];
  decoder?: TinyDecoder;
}

/**
 * A complete little DPO run in ONNX Runtime: the reference log-probs computed once (no LoRA, as the
 * frozen reference), the train-step graph in a Session, and `next` taking one update on the state's
 * next batch at the schedule's learning rate.
 */
export class TinyRun {
  private constructor(
    readonly step: TrainStep,
    private readonly session: Session,
    private readonly options: TinyRunOptions,
    private readonly ref: Float64Array,
  ) {}

  static async create(options: TinyRunOptions): Promise<TinyRun> {
    const decoder = options.decoder ?? tinyDecoder(5);
    const all = preferenceBatch(options.pairs);
    const logps = (await runInSession(logpsGraph(decoder), all)).logps;
    const step = buildTrainStep(dpoForward(decoder, options.dpo), { lora: options.lora, optimizer: options.optimizer });
    const session = await Session.create(serialize(step.graph), { graphName: step.graph.name });
    return new TinyRun(step, session, options, logps);
  }

  /** Step 0: PEFT's init for every adapted module and the first data order, both from `seed`. */
  initialState(seed: number): TrainState {
    const rng = new Rng(seed);
    const params: Record<string, HostTensor> = {};
    for (const m of this.step.modules) {
      const f = initLora(rng, m, this.options.lora.r);
      const names = loraInputNames(m.module);
      params[names.a] = f.a;
      params[names.b] = f.b;
    }
    return newTrainState(params, this.options.pairs.length, rng);
  }

  async next(state: TrainState): Promise<StepResult> {
    const picked = nextBatch(state, this.options.batchSize);
    const n = this.options.pairs.length;
    const feeds = {
      ...preferenceBatch(picked.map((i) => this.options.pairs[i])),
      [batchInputs.refChosen]: tensor64('float32', [picked.length], picked.map((i) => this.ref[i])),
      [batchInputs.refRejected]: tensor64('float32', [picked.length], picked.map((i) => this.ref[n + i])),
    };
    return runTrainStep(this.session, this.step, state, ortFeeds(this.step.graph, feeds), lrAt(this.options.schedule, state.step));
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
