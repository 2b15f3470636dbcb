// DPO-family and SFT training of a loaded model's decoder with LoRA, on ONNX Runtime: reference
// log-probs computed once with the frozen model, then updates of one graph each (forward, backward,
// AdamW; see train-step.ts), metrics per step under TRL's names, a resumable state, and the result
// written as a PEFT adapter and as a merged model folder in the input's layout.
//
// Rows are laid out as TRL's concatenated_forward does: for P pairs, rows [0, P) are prompt + chosen
// and [P, 2P) prompt + rejected; each response ends with the end-of-turn token (TRL appends EOS).
// Embeddings (with the video's feature rows spliced in) are computed on the host by the model's
// embedding session, so the vision tower stays frozen and its features come from the cache.
import * as ort from 'onnxruntime-node';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { concatTyped } from '../../../shared/arrays';
import { ApiError } from '../../../shared/errors';
import { GraphBuilder } from '../graph/builder';
import type { Graph } from '../graph/ir';
import { serialize } from '../graph/onnx';
import { writeCheckpoint, type TensorToWrite } from '../graph/safetensors';
import { Session, type SessionOptions } from '../graph/session';
import { Rng } from '../generate/sampling';
import type { ModelConfig } from '../model/config';
import { addDecoder, textWeightNames, type AdapterProvider } from '../model/decoder';
import type { LanguageModel } from '../model/language-model';
import { addVisualRows, projectorWeightNames, towerTokensPerFrame } from '../model/vision';
import { expectedWeights, transpose, type ModelWeights } from '../model/weights';
import { GRAD_NORM } from './adamw';
import { sequenceLogps } from './logprobs';
import { dpoLoss, sftLoss, trlMetrics, type DpoLossType } from './losses';
import { initLora, loraInputNames, loraScale, mergeLora, writeAdapter, type LoraConfig, type LoraFactors } from './lora';
import { lrAt, warmupSteps, type Schedule } from './schedule';
import { loadState, newTrainState, nextBatch, saveState, STATE_FILE, type TrainState } from './state';
import { accumName, DROPOUT_SEED, buildLossGraph, buildTrainStep, gradientGraph, LOSS, runTrainStep, type ForwardFn, type LossGraph, type TrainStep } from './train-step';

export interface TrainExample {
  /** The chat-formatted prompt (with its visual tokens) as ids. */
  prompt: number[];
  /** Response ids, ending with the end-of-turn token. */
  chosen: number[];
  /** Response ids for DPO; absent for SFT. */
  rejected?: number[];
  visual?: { tokenId: number; features: Float32Array };
  /** The video's tower features before the projector, [frames, towerTokensPerFrame, vision hidden]:
   *  needed (for every example with a video) when the projector is trained. */
  tower?: Float32Array;
}

export interface TrainConfig {
  loss: DpoLossType | 'sft';
  beta: number;
  labelSmoothing: number;
  sftWeight: number;
  lengthPenalty: number;
  lr: number;
  epochs: number;
  /** Pairs (or SFT examples) per micro-batch. */
  batchSize: number;
  gradientAccumulation: number;
  warmupRatio: number;
  schedule: Schedule['kind'];
  weightDecay: number;
  maxGradNorm: number;
  lora: LoraConfig;
  /** Also train the projector (LLaVA-OneVision) or connector (Idefics3) as whole tensors; the vision
   *  tower stays frozen and its features come from the cache. */
  trainProjector: boolean;
  seed: number;
}

/** TRL's DPOConfig defaults where it has them (beta 0.1, lr 1e-6 is TRL's; the paper's code base uses 5e-7 on 7B, a LoRA run here wants more). */
export const defaultTrainConfig: TrainConfig = {
  loss: 'sigmoid', beta: 0.1, labelSmoothing: 0, sftWeight: 0, lengthPenalty: 0, lr: 5e-4, epochs: 3, batchSize: 2,
  gradientAccumulation: 1, warmupRatio: 0.1, schedule: 'cosine', weightDecay: 0, maxGradNorm: 1,
  lora: { r: 16, alpha: 32, dropout: 0, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] }, trainProjector: false, seed: 0,
};

/** One update's metrics: TRL's names (DPO) or loss alone (SFT), plus grad_norm, learning_rate, epoch and tokens/s. */
export type StepMetrics = { step: number } & Record<string, number>;

const inputs = { tower: 'visual_tower', visualIndex: 'visual_index', embeds: 'inputs_embeds', mask: 'attention_mask', positions: 'position_ids', labels: 'labels', lossMask: 'loss_mask', refChosen: 'ref_chosen_logps', refRejected: 'ref_rejected_logps' } as const;

const REFERENCE = 'logps';

export interface Rows {
  feeds: Record<string, ort.Tensor>;
  tokens: number;
}

export class Trainer {
  private constructor(
    private readonly config: ModelConfig,
    private readonly weights: ModelWeights,
    private readonly lm: LanguageModel,
    private readonly examples: readonly TrainExample[],
    readonly settings: TrainConfig,
    private readonly stateDir: string,
    private readonly sessionOptions: Omit<SessionOptions, 'graphName'>,
    /** Frames per video of the examples' tower features (0 when the projector is frozen). */
    private readonly frames: number,
  ) {}

  /** Validates the settings and the examples; nothing runs until `referenceLogps` / `train`. */
  static create(
    model: { config: ModelConfig; weights: ModelWeights; lm: LanguageModel },
    examples: readonly TrainExample[],
    settings: TrainConfig,
    stateDir: string,
    sessionOptions: Omit<SessionOptions, 'graphName'> = {},
  ): Trainer {
    const bad = (what: string) => new ApiError('invalid_argument', `training settings: ${what}`);
    if (examples.length === 0) throw bad('there are no examples to train on');
    if (!(settings.beta > 0)) throw bad(`beta must be > 0, got ${settings.beta}`);
    if (!(settings.lr > 0)) throw bad(`lr must be > 0, got ${settings.lr}`);
    for (const key of ['epochs', 'batchSize', 'gradientAccumulation'] as const) {
      if (!(Number.isInteger(settings[key]) && settings[key] >= 1)) throw bad(`${key} must be a whole number >= 1, got ${settings[key]}`);
    }
    if (!(settings.lora.r >= 1 && Number.isInteger(settings.lora.r))) throw bad(`lora r must be a whole number >= 1, got ${settings.lora.r}`);
    examples.forEach((e, i) => {
      if (e.chosen.length === 0) throw bad(`example ${i + 1} has an empty chosen response`);
      if (settings.loss !== 'sft' && (e.rejected === undefined || e.rejected.length === 0)) throw bad(`example ${i + 1} has no rejected response (needed for ${settings.loss})`);
    });
    let frames = 0;
    if (settings.trainProjector) {
      const perFrame = towerTokensPerFrame(model.config) * model.config.vision.hiddenSize;
      const lengths = new Set(examples.filter((e) => e.visual).map((e, i) => {
        if (e.tower === undefined) throw bad(`example ${i + 1} shows a video but has no tower features, which training the projector needs`);
        return e.tower.length;
      }));
      if (lengths.size === 0) throw bad('training the projector needs examples with videos');
      if (lengths.size > 1) throw bad('training the projector needs the same number of frames for every video');
      frames = [...lengths][0] / perFrame;
      if (!Number.isInteger(frames)) throw bad(`tower features of ${[...lengths][0]} values are not whole frames of ${perFrame}`);
    }
    return new Trainer(model.config, model.weights, model.lm, examples, settings, stateDir, sessionOptions, frames);
  }

  private get dpo(): boolean {
    return this.settings.loss !== 'sft';
  }

  /** Updates the whole run takes: epochs x ceil(examples / (batch x accumulation)). */
  get totalSteps(): number {
    const { batchSize, gradientAccumulation, epochs } = this.settings;
    return epochs * Math.ceil(this.examples.length / (batchSize * gradientAccumulation));
  }

  private schedule(): Schedule {
    const total = this.totalSteps;
    return { kind: this.settings.schedule, lr: this.settings.lr, warmupSteps: warmupSteps(this.settings.warmupRatio, total), totalSteps: total };
  }

  /** The decoder from embeddings to per-row response log-probs, emitted into `b`. */
  private logps(b: GraphBuilder, adapter?: AdapterProvider, projector = false) {
    const h = this.config.text.hiddenSize;
    let embeds = b.input(inputs.embeds, 'float32', ['batch', 'seq', h]);
    if (projector) {
      // The projector's weights are inputs (declared before addProjector, which then uses them);
      // its output rows are gathered into the prompts' visual positions (index 0: no visual row).
      for (const [name, dims] of this.projectorParams()) b.input(name, 'float32', dims);
      const v = this.config.vision;
      const tower = b.input(inputs.tower, 'float32', ['video_frames', towerTokensPerFrame(this.config), v.hiddenSize]);
      const index = b.input(inputs.visualIndex, 'int64', ['batch', 'seq']);
      const rows = b.scope('visual', () => addVisualRows(b, this.config, this.weights, tower, this.frames));
      const table = b.concat([b.constant('float32', [1, h], new Array<number>(h).fill(0)), rows], 0);
      embeds = b.add(embeds, b.gather(table, index, 0));
    }
    const mask = b.input(inputs.mask, 'int64', ['batch', 'seq']);
    const positions = b.input(inputs.positions, 'int64', ['batch', 'seq']);
    const labels = b.input(inputs.labels, 'int64', ['batch', 'seq']);
    const lossMask = b.input(inputs.lossMask, 'float32', ['batch', 'seq']);
    const { logits } = addDecoder(b, this.config, this.weights, { inputsEmbeds: embeds, attentionMask: mask, positionIds: positions }, { adapter });
    return sequenceLogps(b, logits, labels, lossMask);
  }

  private forward(): ForwardFn {
    const s = this.settings;
    return (b, lora) => {
      const logps = this.logps(b, lora, s.trainProjector);
      if (s.loss === 'sft') return { loss: sftLoss(b, logps), metrics: {} };
      const [policyChosen, policyRejected] = b.split(logps.sum, 2, 0);
      const [chosenLength, rejectedLength] = b.split(logps.count, 2, 0);
      const refChosen = b.input(inputs.refChosen, 'float32', ['pairs']);
      const refRejected = b.input(inputs.refRejected, 'float32', ['pairs']);
      const chosenNll = s.sftWeight ? sftLoss(b, { sum: policyChosen, count: chosenLength }) : undefined;
      return dpoLoss(b, { policyChosen, policyRejected, refChosen, refRejected, chosenLength, rejectedLength, chosenNll }, {
        loss: s.loss, beta: s.beta, labelSmoothing: s.labelSmoothing, sftWeight: s.sftWeight, lengthPenalty: s.lengthPenalty,
      });
    };
  }

  /** Right-padded rows prompt + response with labels shifted by one and the loss on response tokens only. */
  private async rows(rows: { example: TrainExample; response: number[] }[], projector = false): Promise<Rows> {
    const h = this.config.text.hiddenSize;
    // With the projector in the graph, visual positions embed as zeros and point into the batch's
    // table of visual rows: one block of rows per video, in the order the videos first appear.
    const videos: TrainExample[] = [];
    const seq = Math.max(...rows.map((r) => r.example.prompt.length + r.response.length));
    const n = rows.length;
    const visualIndex = new BigInt64Array(projector ? n * seq : 0);
    const embeds = new Float32Array(n * seq * h);
    const mask = new BigInt64Array(n * seq);
    const positions = new BigInt64Array(n * seq);
    const labels = new BigInt64Array(n * seq);
    const lossMask = new Float32Array(n * seq);
    let tokens = 0;
    for (let r = 0; r < n; r++) {
      const { example, response } = rows[r];
      const ids = [...example.prompt, ...response];
      tokens += ids.length;
      const visual = example.visual;
      if (projector && visual) {
        let slot = videos.indexOf(example);
        if (slot < 0) slot = videos.push(example) - 1;
        const count = visual.features.length / h;
        embeds.set(await this.lm.embed(ids, { tokenId: visual.tokenId, features: new Float32Array(visual.features.length) }), r * seq * h);
        let k = 0;
        ids.forEach((id, t) => {
          if (id === visual.tokenId) visualIndex[r * seq + t] = BigInt(1 + slot * count + k++);
        });
      } else {
        embeds.set(await this.lm.embed(ids, visual), r * seq * h);
      }
      for (let t = 0; t < seq; t++) {
        const i = r * seq + t;
        positions[i] = BigInt(t);
        if (t < ids.length) mask[i] = 1n;
        if (t + 1 < ids.length) labels[i] = BigInt(ids[t + 1]);
        if (t + 1 >= example.prompt.length && t + 1 < ids.length) lossMask[i] = 1;
      }
    }
    const dims = [n, seq];
    const projectorFeeds: Record<string, ort.Tensor> = {};
    if (projector) {
      const v = this.config.vision;
      const perFrame = towerTokensPerFrame(this.config) * v.hiddenSize;
      // A batch without any video still feeds one (zero) video, which no position points at.
      const towers = videos.length > 0 ? videos.map((e) => e.tower!) : [new Float32Array(this.frames * perFrame)];
      const tower = concatTyped(towers, (length) => new Float32Array(length));
      projectorFeeds[inputs.tower] = new ort.Tensor('float32', tower, [towers.length * this.frames, towerTokensPerFrame(this.config), v.hiddenSize]);
      projectorFeeds[inputs.visualIndex] = new ort.Tensor('int64', visualIndex, dims);
    }
    return {
      tokens,
      feeds: {
        ...projectorFeeds,
        [inputs.embeds]: new ort.Tensor('float32', embeds, [n, seq, h]),
        [inputs.mask]: new ort.Tensor('int64', mask, dims),
        [inputs.positions]: new ort.Tensor('int64', positions, dims),
        [inputs.labels]: new ort.Tensor('int64', labels, dims),
        [inputs.lossMask]: new ort.Tensor('float32', lossMask, dims),
      },
    };
  }

  /** The graph of the loss alone (LoRA factors as inputs): for checking its gradient. */
  lossGraph(): LossGraph {
    return buildLossGraph(this.forward(), this.settings.lora, 'loss', this.extraParams());
  }

  /** The projector's weights as trainable inputs: names and MatMul-layout dims (torch's [out, in] transposed). */
  private projectorParams(): [string, number[]][] {
    const shapes = expectedWeights(this.config);
    return projectorWeightNames(this.config).map((name) => {
      const dims = shapes.get(name)!;
      return [name, dims.length === 2 ? [dims[1], dims[0]] : dims];
    });
  }

  /** A projector weight as training starts from it: the checkpoint's, in MatMul layout. */
  initialParam(name: string): Float32Array {
    const entry = this.projectorParams().find(([n]) => n === name);
    if (!entry) throw new Error(`'${name}' is not a projector weight of this model`);
    const [, dims] = entry;
    const w = this.weights.get(name);
    return dims.length === 2 ? transpose(w, dims[1], dims[0]) : Float32Array.from(w);
  }

  private extraParams(): string[] {
    return this.settings.trainProjector ? this.projectorParams().map(([name]) => name) : [];
  }

  /** A projector weight's trained value in the checkpoint's torch layout. */
  private torchLayout(state: TrainState, name: string): Float32Array {
    const t = state.params[name];
    return t.dims.length === 2 ? transpose(t.data, t.dims[0], t.dims[1]) : t.data;
  }

  /** The data feeds of a micro-batch of examples (and their reference log-probs, for DPO). */
  async batchFeeds(indices: readonly number[], reference?: Float32Array): Promise<Rows> {
    const rows = await this.rows(this.batchRows(indices), this.settings.trainProjector);
    if (this.dpo) {
      if (reference === undefined) throw new Error('a DPO batch needs the reference log-probs');
      const n = this.examples.length;
      rows.feeds[inputs.refChosen] = new ort.Tensor('float32', Float32Array.from(indices, (i) => reference[i]), [indices.length]);
      rows.feeds[inputs.refRejected] = new ort.Tensor('float32', Float32Array.from(indices, (i) => reference[n + i]), [indices.length]);
    }
    return rows;
  }

  private batchRows(indices: readonly number[]): { example: TrainExample; response: number[] }[] {
    const picked = indices.map((i) => this.examples[i]);
    const chosen = picked.map((example) => ({ example, response: example.chosen }));
    return this.dpo ? [...chosen, ...picked.map((example) => ({ example, response: example.rejected! }))] : chosen;
  }

  private async session(graph: Graph): Promise<Session> {
    return Session.create(serialize(graph), { ...this.sessionOptions, graphName: graph.name });
  }

  /**
   * Summed response log-probs of every example's chosen and rejected responses under the frozen
   * model (no adapter): the DPO reference, computed once. Returns [chosen..., rejected...].
   */
  async referenceLogps(onProgress: (done: number, total: number) => void = () => {}): Promise<Float32Array> {
    const b = new GraphBuilder('reference_logps');
    b.output(this.logps(b).sum, REFERENCE);
    const session = await this.session(b.build());
    const n = this.examples.length;
    const out = new Float32Array(2 * n);
    try {
      for (let start = 0; start < n; start += this.settings.batchSize) {
        const indices = Array.from({ length: Math.min(this.settings.batchSize, n - start) }, (_, i) => start + i);
        const { feeds } = await this.rows(this.batchRows(indices));
        const sums = (await session.run(feeds))[REFERENCE].data as Float32Array;
        indices.forEach((i, k) => {
          out[i] = sums[k];
          out[n + i] = sums[indices.length + k];
        });
        onProgress(start + indices.length, n);
      }
    } finally {
      await session.release();
    }
    return out;
  }

  private initialState(step: TrainStep): TrainState {
    const rng = new Rng(this.settings.seed);
    const params: TrainState['params'] = {};
    for (const m of step.modules) {
      const f = initLora(rng, m, this.settings.lora.r);
      const names = loraInputNames(m.module);
      params[names.a] = f.a;
      params[names.b] = f.b;
    }
    if (this.settings.trainProjector) for (const [name, dims] of this.projectorParams()) params[name] = { dims, data: this.initialParam(name) };
    return newTrainState(params, this.examples.length, rng);
  }

  /**
   * Trains to the end (or until `signal` aborts), resuming from the state in the state folder if one
   * is there. The state is saved every `saveEvery` updates and at the end, so a killed run resumes
   * and takes exactly the updates it would have taken. `reference` is referenceLogps' result (DPO only).
   */
  async train(options: {
    reference?: Float32Array;
    onStep?: (m: StepMetrics) => void;
    signal?: AbortSignal;
    saveEvery?: number;
    /** Stop after this many updates in all (for tests of resumption); default: the whole run. */
    stopAfter?: number;
  } = {}): Promise<TrainState> {
    const s = this.settings;
    if (this.dpo && options.reference?.length !== 2 * this.examples.length) {
      throw new Error(`training needs reference log-probs for all ${this.examples.length} examples (from referenceLogps)`);
    }
    const forward = this.forward();
    const step = buildTrainStep(forward, { lora: s.lora, optimizer: { weightDecay: s.weightDecay, maxGradNorm: s.maxGradNorm }, accumulation: s.gradientAccumulation, extraParams: this.extraParams() });
    const stepSession = await this.session(step.graph);
    const gradSession = s.gradientAccumulation > 1 ? await this.session(gradientGraph(buildLossGraph(forward, s.lora, 'micro_batch', this.extraParams()))) : null;
    const state = existsSync(join(this.stateDir, STATE_FILE)) ? loadState(this.stateDir) : this.initialState(step);
    const schedule = this.schedule();
    const stopAt = Math.min(this.totalSteps, options.stopAfter ?? Infinity);
    const n = this.examples.length;
    try {
      while (state.step < stopAt) {
        if (options.signal?.aborted) throw new ApiError('cancelled', `training cancelled before step ${state.step + 1}`);
        const started = performance.now();
        const micro: number[][] = [];
        for (let k = 0; k < s.gradientAccumulation; k++) {
          // An update never straddles epochs: its micro-batches come from the current epoch's order.
          if (k > 0 && state.cursor >= state.order.length) break;
          micro.push(nextBatch(state, s.batchSize));
        }
        let micros = 0;
        const feedsOf = async (indices: number[]) => {
          const rows = await this.batchFeeds(indices, options.reference);
          // A function of (seed, step, micro-batch) only, so a resumed run draws the same dropout masks.
          if (s.lora.dropout > 0) rows.feeds[DROPOUT_SEED] = new ort.Tensor('int64', BigInt64Array.of(BigInt(s.seed) * 1000003n + BigInt(state.step) * 1024n + BigInt(micros++)), []);
          return rows;
        };
        let tokens = 0;
        const sums: Record<string, number> = {};
        const accum = new Map<string, Float32Array>();
        for (const indices of micro.slice(0, -1)) {
          const rows = await feedsOf(indices);
          tokens += rows.tokens;
          const out = await gradSession!.run({ ...rows.feeds, ...Object.fromEntries(step.params.map((p) => [p, new ort.Tensor('float32', state.params[p].data, [...state.params[p].dims])])) });
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
        const result = await runTrainStep(stepSession, step, state, last.feeds, lr);
        sums[LOSS] = (sums[LOSS] ?? 0) + result.loss;
        for (const key of step.metrics) sums[key] = (sums[key] ?? 0) + result.metrics[key];
        const metrics: StepMetrics = { step: state.step };
        for (const [key, total] of Object.entries(sums)) metrics[key] = total / micro.length;
        Object.assign(metrics, { [GRAD_NORM]: result.gradNorm, learning_rate: lr, epoch: state.epoch + state.cursor / n, 'tokens/s': tokens / ((performance.now() - started) / 1000) });
        if (!Number.isFinite(metrics[LOSS]) || !Number.isFinite(result.gradNorm)) {
          throw new ApiError('internal', `training diverged at step ${state.step}: loss ${metrics[LOSS]}, grad_norm ${result.gradNorm}; lower the learning rate`);
        }
        options.onStep?.(metrics);
        if (state.step % (options.saveEvery ?? 10) === 0 || state.step === stopAt) saveState(this.stateDir, state);
      }
    } finally {
      await Promise.all([stepSession.release(), gradSession?.release()]);
    }
    return state;
  }

  /** The trained factors by module path relative to the decoder stack ('layers.0.self_attn.q_proj'). */
  private factors(state: TrainState): Map<string, LoraFactors> {
    const out = new Map<string, LoraFactors>();
    for (const name of Object.keys(state.params)) {
      const m = /^model\.(.+)\.lora_A$/.exec(name);
      if (!m) continue;
      const names = loraInputNames(`model.${m[1]}`);
      out.set(m[1], { a: state.params[names.a], b: state.params[names.b] });
    }
    return out;
  }

  /** adapter_model.safetensors + adapter_config.json, with the base model's full module paths. */
  writeAdapter(dir: string, state: TrainState, baseModel: string): void {
    const saved = this.extraParams();
    const modulesToSave = saved.length === 0 ? undefined : {
      modules: [this.config.arch === 'llava-onevision' ? 'multi_modal_projector' : 'connector'],
      tensors: new Map(saved.map((name) => [name, { dims: expectedWeights(this.config).get(name)!, data: this.torchLayout(state, name) }])),
    };
    writeAdapter(dir, { config: this.settings.lora, factors: this.factors(state), baseModel, taskType: 'CAUSAL_LM', ...(modulesToSave ? { modulesToSave } : {}) }, textWeightNames(this.config).prefix);
  }

  /**
   * A model folder in the input's layout with the adapter merged into its weights: the source's
   * config, tokenizer and processor files copied, every weight rewritten (as F32) under its
   * published name. The studio loads it as the next round's policy; transformers loads it too.
   */
  writeMerged(dir: string, sourceDir: string, state: TrainState): void {
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(sourceDir)) {
      if (file.endsWith('.json') && file !== 'model.safetensors.index.json') copyFileSync(join(sourceDir, file), join(dir, file));
      else if (file.endsWith('.jinja') || file === 'tokenizer.model') copyFileSync(join(sourceDir, file), join(dir, file));
    }
    const { prefix } = textWeightNames(this.config);
    const scale = loraScale(this.settings.lora);
    const merged = new Map<string, LoraFactors>([...this.factors(state)].map(([module, f]) => [`${prefix}${module}.weight`, f]));
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, shape] of expectedWeights(this.config)) {
      const f = merged.get(name);
      const w = name in state.params ? this.torchLayout(state, name) : this.weights.get(name);
      tensors[name] = { dtype: 'F32', shape, data: f ? mergeLora(w, f.a, f.b, scale) : w };
    }
    writeCheckpoint(dir, tensors, { metadata: { format: 'pt' } });
  }
}

/** The TRL metric names a DPO step reports, for printing in a fixed order. */
export const dpoMetricNames = [LOSS, ...trlMetrics, GRAD_NORM, 'learning_rate', 'tokens/s'] as const;
