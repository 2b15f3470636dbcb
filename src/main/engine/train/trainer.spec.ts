// Training a real model folder (the tiny fixture, loaded by the same code as a checkpoint): the
// whole DPO loss's gradient against finite differences, a run that learns its preferences, the
// merged folder scoring as the trained adapter does, exact resumption, and gradient accumulation.
import * as ort from 'onnxruntime-node';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differentiate, GRAD_PREFIX } from '../autodiff/differentiate';
import { randomTensor, rng } from '../testing/gradcheck';
import type { Graph } from '../graph/ir';
import { runReference, tensor64, type Feeds } from '../graph/reference';
import { readModelConfig, type ModelConfig } from '../model/config';
import { writeFixture } from '../model/fixture';
import { LanguageModel } from '../model/language-model';
import { ModelTokenizer } from '../model/tokenizer';
import { openWeights, type ModelWeights } from '../model/weights';
import { textWeightNames } from '../model/decoder';
import { projectorWeightNames } from '../model/vision';
import { VideoLanguageModel } from '../model/vlm';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, readAdapter } from './lora';
import { DROPOUT_SEED, LOSS } from './train-step';
import { defaultTrainConfig, type TrainConfig, type TrainExample } from './train-config';
import { Trainer } from './trainer';
import type { StepMetrics } from './update-loop';

const corpus = ['What colour is the square?', 'The square is red.', 'The square is blue.', 'How many shapes move left?', 'Two.', 'Three.'];

interface Loaded { dir: string; config: ModelConfig; weights: ModelWeights; lm: LanguageModel; tok: ModelTokenizer }

async function load(dir: string): Promise<Loaded> {
  const config = readModelConfig(dir);
  const weights = openWeights(dir, config);
  return { dir, config, weights, lm: new LanguageModel(config, weights), tok: ModelTokenizer.load(dir) };
}

let root: string;
let base: Loaded;
let examples: TrainExample[];
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'isr-trainer-'));
  writeFixture(join(root, 'base'), { arch: 'llava-onevision', size: 'tiny', seed: 3, corpus });
  base = await load(join(root, 'base'));
  const end = base.tok.tokenId('<|im_end|>');
  const prompt = (q: string) => base.tok.encode(base.tok.applyChatTemplate([{ role: 'user', content: q }], { addGenerationPrompt: true }));
  const answer = (a: string) => [...base.tok.encode(a), end];
  const features = Float32Array.from(randomTensor(rng(9), 'float32', [2, base.config.text.hiddenSize]).data);
  const video = base.tok.tokenId('<video>');
  // Eight preferences; two prompts carry visual rows, as video prompts do.
  examples = [
    ['What colour is the square?', 'The square is red.', 'The square is blue.'],
    ['How many shapes move left?', 'Two.', 'Three.'],
    ['What colour is the square? Look again.', 'The square is blue.', 'The square is red.'],
    ['How many shapes?', 'Three.', 'Two.'],
    ['Which colour?', 'The square is red.', 'Two.'],
    ['How many move?', 'Two.', 'The square is blue.'],
    ['Colour of the square?', 'The square is blue.', 'Three.'],
    ['Count the shapes.', 'Three.', 'The square is red.'],
  ].map(([q, c, r], i) => {
    const ids = prompt(q);
    if (i % 4 === 0) return { prompt: [...ids.slice(0, 2), video, video, ...ids.slice(2)], chosen: answer(c), rejected: answer(r), visual: { tokenId: video, features } };
    return { prompt: ids, chosen: answer(c), rejected: answer(r) };
  });
});
afterAll(async () => {
  await base.lm.release();
  base.weights.close();
  rmSync(root, { recursive: true, force: true });
});

const settings = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  ...defaultTrainConfig, lr: 2e-2, epochs: 6, batchSize: 4, warmupRatio: 0, schedule: 'constant', seed: 1,
  lora: { r: 4, alpha: 8, dropout: 0, targets: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'] }, ...over,
});

const fresh = () => mkdtempSync(join(root, 'state-'));

/**
 * The loss's derivative along a random direction in the `along` inputs, two ways (gradcheck's "fast
 * mode"): <autodiff gradient, d> from the float64 reference, and central differences at h and h/2,
 * Richardson-extrapolated so the h^2 error term cancels.
 */
function alongRandomDirection(graph: Graph, point: Feeds, wrt: readonly string[], along: readonly string[], rand: () => number): { analytic: number; numeric: number } {
  const grads = runReference(differentiate(graph, { loss: LOSS, wrt }), point, along.map((p) => GRAD_PREFIX + p));
  const d = Object.fromEntries(along.map((p) => [p, randomTensor(rand, 'float64', point[p].dims).data]));
  const analytic = along.reduce((sum, p) => sum + grads[GRAD_PREFIX + p].data.reduce((a, g, i) => a + g * d[p][i], 0), 0);
  const at = (h: number) => runReference(graph, { ...point, ...Object.fromEntries(along.map((p) => [p, { ...point[p], data: point[p].data.map((v, i) => v + h * d[p][i]) }])) }, [LOSS])[LOSS].data[0];
  const central = (h: number) => (at(h) - at(-h)) / (2 * h);
  const h = 2e-6;
  return { analytic, numeric: (4 * central(h / 2) - central(h)) / 3 };
}
const asFeeds = (feeds: Record<string, ort.Tensor>): Feeds =>
  Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, tensor64(t.type === 'int64' ? 'int64' : 'float32', t.dims, Array.from(t.data as ArrayLike<number | bigint>, Number))]));

describe('Trainer on a model folder', () => {
  it('differentiates the whole DPO loss (decoder, log-probs, loss) as finite differences do, in float64', async () => {
    // Every adapted projection, checked along random directions (gradcheck's "fast mode"): the
    // derivative of the loss along d by central differences must equal <grad, d>.
    const t = Trainer.create(base, examples.slice(0, 2), settings({ lora: { ...defaultTrainConfig.lora, r: 2, dropout: 0.1 }, sftWeight: 0.5, lengthPenalty: 0.02 }), fresh());
    const loss = t.lossGraph();
    expect(loss.params).toHaveLength(2 * 7 * base.config.text.numLayers);
    const reference = await t.referenceLogps();
    const { feeds } = await t.batchFeeds([0, 1], Float32Array.from(reference, (v) => v + 0.3));
    const rand = rng(4);
    const dims = (p: string) => loss.graph.inputs.find((i) => i.name === p)!.shape as number[];
    // Both factors random, so neither gradient is trivially 0.
    const point: Feeds = {
      ...asFeeds(feeds),
      // Dropout masks are fixed by the seed, so the loss is a smooth function of the factors.
      [DROPOUT_SEED]: tensor64('int64', [], [42]),
      ...Object.fromEntries(loss.params.map((p) => [p, tensor64('float32', dims(p), Array.from(randomTensor(rand, 'float64', dims(p)).data, (v) => 0.2 * v))])),
    };
    for (let trial = 0; trial < 3; trial++) {
      const { analytic, numeric } = alongRandomDirection(loss.graph, point, loss.params, loss.params, rand);
      expect(Math.abs(analytic - numeric), `direction ${trial}: analytic ${analytic}, numeric ${numeric}`).toBeLessThan(1e-7 + 1e-6 * Math.abs(numeric));
    }
  }, 60_000);

  it('learns its preferences, and the merged folder scores them as the adapter did', async () => {
    const state = fresh();
    const t = Trainer.create(base, examples, settings(), state);
    const reference = await t.referenceLogps();
    const steps: StepMetrics[] = [];
    const final = await t.train({ reference, onStep: (m) => steps.push(m) });
    expect(steps).toHaveLength(t.totalSteps);
    expect(steps[0][LOSS]).toBeCloseTo(Math.log(2), 3); // B = 0 at the start: the policy is the reference
    const lastEpoch = steps.slice(-2);
    for (const m of lastEpoch) expect(m['rewards/accuracies']).toBeGreaterThanOrEqual(0.95);
    expect(steps.at(-1)![LOSS]).toBeLessThan(0.5 * Math.log(2));
    for (const key of ['rewards/chosen', 'rewards/rejected', 'rewards/margins', 'logps/chosen', 'logps/rejected', 'grad_norm', 'learning_rate', 'epoch', 'tokens/s']) {
      expect(Number.isFinite(steps[0][key]), key).toBe(true);
    }

    const out = join(root, 'trained');
    t.writeAdapter(join(out, 'adapter'), final, base.dir);
    t.writeMerged(join(out, 'merged'), base.dir, final);
    expect(readdirSync(join(out, 'adapter')).sort()).toEqual([ADAPTER_CONFIG, ADAPTER_WEIGHTS]);
    expect(readdirSync(join(out, 'merged'))).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json']));

    // Scored afresh: the merged model's log-probs against the starting model's, pair by pair.
    const merged = await load(join(out, 'merged'));
    try {
      const scored = await Trainer.create(merged, examples, settings(), fresh()).referenceLogps();
      const n = examples.length;
      const prefers = examples.filter((_, i) => scored[i] - reference[i] > scored[n + i] - reference[n + i]).length;
      expect(prefers / n).toBeGreaterThanOrEqual(0.95);
      expect(scored[0]).not.toBeCloseTo(reference[0], 2);
    } finally {
      await merged.lm.release();
      merged.weights.close();
    }
  }, 120_000);

  it('resumes a stopped run and takes exactly the steps the uninterrupted run took, dropout masks included', async () => {
    const cfg = settings({ epochs: 2, batchSize: 3, schedule: 'cosine', warmupRatio: 0.25, lora: { ...settings().lora, dropout: 0.1 } });
    const whole: StepMetrics[] = [];
    const reference = await Trainer.create(base, examples, cfg, fresh()).referenceLogps();
    await Trainer.create(base, examples, cfg, fresh()).train({ reference, onStep: (m) => whole.push(m) });

    const dir = fresh();
    const parts: StepMetrics[] = [];
    await Trainer.create(base, examples, cfg, dir).train({ reference, onStep: (m) => parts.push(m), stopAfter: 2 });
    expect(existsSync(join(dir, 'train_state.json'))).toBe(true);
    await Trainer.create(base, examples, cfg, dir).train({ reference, onStep: (m) => parts.push(m) });
    const strip = ({ 'tokens/s': _, ...m }: StepMetrics) => m;
    expect(parts.map(strip)).toEqual(whole.map(strip));
  }, 60_000);

  it('accumulates micro-batches into the same update one large batch makes', async () => {
    const reference = await Trainer.create(base, examples, settings(), fresh()).referenceLogps();
    const once = await Trainer.create(base, examples, settings({ batchSize: 4 }), fresh()).train({ reference, stopAfter: 1 });
    const split = await Trainer.create(base, examples, settings({ batchSize: 2, gradientAccumulation: 2 }), fresh()).train({ reference, stopAfter: 1 });
    for (const [name, t] of Object.entries(once.params)) {
      const other = split.params[name].data;
      const worst = t.data.reduce((m, v, i) => Math.max(m, Math.abs(v - other[i])), 0);
      expect(worst, name).toBeLessThan(1e-5);
    }
  }, 60_000);

  it('stops with an error naming the step when the loss stops being a number', async () => {
    const cfg = settings({ lr: 1e30, epochs: 3 });
    const reference = await Trainer.create(base, examples, cfg, fresh()).referenceLogps();
    await expect(Trainer.create(base, examples, cfg, fresh()).train({ reference })).rejects.toThrow(/^training diverged at step \d+: loss (NaN|-?Infinity), grad_norm/);
  });

  it('refuses settings and data that cannot train, naming them', () => {
    expect(() => Trainer.create(base, [], settings(), fresh())).toThrow('training settings: there are no examples to train on');
    expect(() => Trainer.create(base, examples, settings({ beta: -1 }), fresh())).toThrow('beta must be > 0, got -1');
    expect(() => Trainer.create(base, [{ prompt: [1], chosen: [2] }], settings(), fresh())).toThrow('example 1 has no rejected response (needed for sigmoid)');
  });
});

/** The module PEFT's modules_to_save names in each family's published checkpoints. */
const publishedProjectorModule = { 'llava-onevision': 'multi_modal_projector', idefics3: 'connector' } as const;

describe.each(['llava-onevision', 'idefics3'] as const)('Trainer with whole tensors of %s trained too', (arch) => {
  let vlm: VideoLanguageModel;
  let videoExamples: TrainExample[];
  beforeAll(async () => {
    const dir = join(root, `projector-${arch}`);
    writeFixture(dir, { arch, size: 'tiny', seed: 5, corpus });
    vlm = await VideoLanguageModel.load(dir);
    const { width, height } = vlm.frameSize;
    const video = (shift: number) => Array.from({ length: 2 }, (_, f) => Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 13 + f * 29 + shift * 71) % 256));
    const eot = vlm.tokenizer.stopTokenIds()[0];
    const answer = (a: string) => [...vlm.tokenizer.encode(a), eot];
    videoExamples = [];
    for (const [k, [q, c, r]] of [['What colour is the square?', 'The square is red.', 'The square is blue.'], ['How many shapes move left?', 'Two.', 'Three.'], ['What colour is the square?', 'The square is blue.', 'The square is red.'], ['How many shapes?', 'Three.', 'Two.']].entries()) {
      const frames = video(k);
      const prompt = vlm.prompt([{ role: 'user', content: [{ type: 'video' }, { type: 'text', text: q }] }], 2);
      videoExamples.push({ prompt: prompt.inputIds, chosen: answer(c), rejected: answer(r), visual: { tokenId: prompt.visualTokenId!, features: await vlm.visualFeatures(frames) }, tower: await vlm.towerFeatures(frames) });
    }
    // One example without a video: its rows point at no visual row.
    videoExamples.push({ ...examples[1], prompt: vlm.prompt([{ role: 'user', content: 'How many shapes move left?' }], 0).inputIds });
  }, 60_000);
  afterAll(() => vlm.release());

  const projector = (over: Partial<TrainConfig> = {}) => settings({ trainProjector: true, lora: { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj'] }, ...over });
  // The fixtures' heads are not tied: the embeddings and the head are two tensors.
  const embeddingNames = () => {
    const { prefix, lmHead } = textWeightNames(vlm.config);
    return [`${prefix}embed_tokens.weight`, lmHead!];
  };
  const wholeSets = [
    { trained: 'the projector', over: {}, names: () => projectorWeightNames(vlm.config) },
    { trained: 'the embeddings and head', over: { trainProjector: false, trainEmbeddings: true }, names: embeddingNames },
    { trained: 'the projector, embeddings and head', over: { trainEmbeddings: true }, names: () => [...projectorWeightNames(vlm.config), ...embeddingNames()] },
  ];

  it.each(wholeSets)('starts where the frozen model is (in-graph rows equal the host\'s) and differentiates $trained', async ({ over, names: expected }) => {
    const t = Trainer.create(vlm, videoExamples, projector({ batchSize: 3, ...over }), fresh());
    const reference = await t.referenceLogps();
    const first: StepMetrics[] = [];
    await Trainer.create(vlm, videoExamples, projector({ batchSize: 3, ...over }), fresh()).train({ reference, onStep: (m) => first.push(m), stopAfter: 1 });
    // LoRA B = 0 and the whole tensors at their loaded weights: the policy is the reference, loss ln 2.
    expect(first[0][LOSS]).toBeCloseTo(Math.log(2), 4);
    expect(first[0]['rewards/margins']).toBeCloseTo(0, 4);

    const loss = t.lossGraph();
    const names = loss.params.filter((p) => !p.includes('lora_'));
    expect(names.sort()).toEqual(expected().sort());
    const { feeds } = await t.batchFeeds([0, 4, 2], Float32Array.from(reference, (v) => v + 0.2));
    const rand = rng(8);
    const dims = (p: string) => loss.graph.inputs.find((i) => i.name === p)!.shape as number[];
    const start = (p: string) => (p.includes('lora_') ? Array.from(randomTensor(rand, 'float64', dims(p)).data, (v) => 0.2 * v) : Array.from(t.initialParam(p)));
    const point: Feeds = { ...asFeeds(feeds), ...Object.fromEntries(loss.params.map((p) => [p, tensor64('float32', dims(p), start(p))])) };
    const { analytic, numeric } = alongRandomDirection(loss.graph, point, loss.params, names, rand);
    expect(Math.abs(analytic), 'the whole tensors get a gradient').toBeGreaterThan(1e-6);
    expect(Math.abs(analytic - numeric), `analytic ${analytic}, numeric ${numeric}`).toBeLessThan(1e-7 + 1e-5 * Math.abs(numeric));
  }, 120_000);

  it.each([
    { trained: 'the projector', over: {}, modules: [publishedProjectorModule[arch]], names: () => projectorWeightNames(vlm.config).slice(0, 1) },
    { trained: 'the embeddings and head', over: { trainProjector: false, trainEmbeddings: true }, modules: ['embed_tokens', 'lm_head'], names: embeddingNames },
  ])('writes $trained into the merged folder and as PEFT modules_to_save', async ({ over, modules, names }) => {
    const t = Trainer.create(vlm, videoExamples, projector({ epochs: 2, ...over }), fresh());
    const reference = await t.referenceLogps();
    const state = await t.train({ reference });
    const out = join(root, `whole-out-${arch}-${modules.join('-')}`);
    t.writeAdapter(join(out, 'adapter'), state, vlm.dir);
    t.writeMerged(join(out, 'merged'), vlm.dir, state);
    const merged = await VideoLanguageModel.load(join(out, 'merged'));
    try {
      const adapter = readAdapter(join(out, 'adapter'), textWeightNames(vlm.config).prefix);
      expect(adapter.modulesToSave!.modules).toEqual(modules);
      for (const name of names()) {
        const before = vlm.weights.get(name);
        const after = merged.weights.get(name);
        expect(after.some((v, i) => v !== before[i]), name).toBe(true);
        expect(adapter.modulesToSave!.tensors.get(name)!.data).toEqual(after);
      }
    } finally {
      await merged.release();
    }
  }, 120_000);
});
