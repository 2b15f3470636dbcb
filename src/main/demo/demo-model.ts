// `isr-studio demo-model`: the warm start the demo's rounds begin from. A `small` fixture of one
// family is written and trained with SFT (LoRA on every projection of the decoder) in three stages,
// each merged before the next: reading with a short prompt, reading with the judge template (both
// text only, on synthetic scenes: reading.ts says why), then the warm-start items of the demo data's
// train split with their videos. The result is measured on the test split: answer accuracy
// (normalised exact match, as rounds score it) and the judge on held-out judge items, judged in
// both orders as a round judges. Training state is saved every update, so running the command
// again resumes where it stopped.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { count } from '../../shared/plural';
import { mulberry32 } from '../../shared/prng';
import { writeCheckpoint, type TensorToWrite } from '../engine/graph/safetensors';
import { writeFixture, type FixtureArch, type FixtureSize } from '../engine/model/fixture';
import { familyById, familyOf } from '../engine/model/families';
import type { PromptVideo } from '../engine/model/prompt';
import { expectedWeights } from '../engine/model/weights';
import { VideoLanguageModel } from '../engine/model/vlm';
import { defaultTrainConfig, type TrainConfig, type TrainExample } from '../engine/train/train-config';
import type { StepMetrics } from '../engine/train/update-loop';
import { demoCorpus } from './data/corpus';
import { evaluateAnswers } from '../isr/answer-evaluation';
import { judgeBothOrders, type JudgeText } from '../isr/judge';
import { readingItems, type ReadingPrompt } from './reading';
import { exactMatchScorer } from '../isr/scorer';
import { runSettingsDefaults } from '../isr/settings';
import { loadTemplates, templateNames, type Templates } from '../isr/templates';
import { trainingExample } from '../isr/training-example';
import { runTraining } from '../isr/training-pipeline';
import { VideoFeatures } from '../isr/video-features';
import { readDemoData, warmStartItems, type DemoClip, type DemoQuestion } from './warm-start';

/** What a fixture's tokenizer is learned from: the demo data's language and the studio's prompts. */
export function fixtureCorpus(templates: Templates = loadTemplates()): string[] {
  return [...templateNames.map((n) => templates[n]), ...demoCorpus()];
}

export interface DemoModelOptions {
  data: string;
  out: string;
  arch: FixtureArch;
  size: FixtureSize;
  seed: number;
  epochs: number;
  lr: number;
  frames: number;
  /** Updates (of 8 fresh items each) of the reading stage with the short prompt, then with the judge template. */
  readingShort: number;
  readingFull: number;
  ffmpeg: string;
  cacheDir: string;
  onProgress?: (phase: string, done: number, total: number, detail?: string) => void;
}

export interface DemoModelResult {
  /** Updates of the two reading stages. */
  readingSteps: { short: number; full: number };
  /** Warm-start items of the video stage, and its updates. */
  examples: number;
  steps: number;
  final: StepMetrics | null;
  /** Held-out answers scored correct, of `answers`. */
  answers: number;
  accuracy: number;
  /** Held-out judge items decided the right way (the better answer's probability, averaged over both
   *  orders, above 0.5), of `judged`; `judgeDecided`: the share outside the rounds' default tie band. */
  judged: number;
  judgeAccuracy: number;
  judgeDecided: number;
  /** The judge template on fresh text-only reading items: the reading stage's skill, after the video stage. */
  readingAccuracy: number;
}

export const demoModelDefaults = { arch: 'llava-onevision', size: 'small', seed: 1, epochs: 4, lr: 1e-3, frames: 8, readingShort: 500, readingFull: 700 } as const satisfies Partial<DemoModelOptions>;

/** The warm start's training settings: SFT with a wide adapter, since the fixture starts from random
 *  weights. The projector stays frozen: trained along, it made the clips' visual tokens alike and
 *  held-out accuracy fell (docs/experiments/README.md). */
function trainSettings(o: DemoModelOptions): TrainConfig {
  return {
    ...defaultTrainConfig, loss: 'sft', lr: o.lr, epochs: o.epochs, batchSize: 4, warmupRatio: 0.05, seed: o.seed, trainProjector: false,
    lora: { ...defaultTrainConfig.lora, r: 32, alpha: 64 },
  };
}

/** Each reading update sees 8 items never seen before: one epoch over fresh synthetic scenes. */
const readingBatch = 8;

export async function trainDemoModel(o: DemoModelOptions): Promise<DemoModelResult> {
  const data = resolve(o.data);
  const { clips, train, test } = readDemoData(data);
  const templates = loadTemplates();
  const work = join(o.out, 'training');
  const base = join(work, 'base');
  const progress = o.onProgress ?? (() => {});
  const split = (s: 'train' | 'test') => clips.filter((c) => c.split === s);
  if (!existsSync(join(base, 'model.safetensors'))) {
    // Written beside and renamed when complete, so a killed run never leaves a half-made base.
    const fresh = `${base}.partial`;
    rmSync(fresh, { recursive: true, force: true });
    writeFixture(fresh, { arch: o.arch, size: o.size, seed: o.seed, corpus: fixtureCorpus(templates) });
    const outputBias = familyById(o.arch).projectorOutputBias;
    if (outputBias !== null) await centreProjector(fresh, outputBias, split('train').map((c) => join(data, c.video)), o);
    renameSync(fresh, base);
  }

  const stage = (name: string, from: string, to: string, settings: TrainConfig, examples: (vlm: VideoLanguageModel) => Promise<TrainExample[]>) =>
    trainStage({ name, from, to, dir: join(work, name), settings, examples, progress });
  // The reading stages draw their scenes from seeds of their own: nothing of the demo data's clips.
  const reading = (prompt: ReadingPrompt, updates: number, seed: number) => (vlm: VideoLanguageModel) =>
    Promise.all(readingItems(updates * readingBatch, prompt, templates, mulberry32(seed)).map((item) => trainingExample(vlm, { messages: item.messages, chosen: item.target }, null)));
  const readingSettings: TrainConfig = { ...trainSettings(o), epochs: 1, batchSize: readingBatch };
  let from = base;
  const readingSteps = { short: 0, full: 0 };
  for (const [prompt, updates, seed] of [['short', o.readingShort, o.seed + 100], ['full', o.readingFull, o.seed + 200]] as const) {
    if (updates === 0) continue;
    const to = join(work, `reading-${prompt}`, 'model');
    readingSteps[prompt] = (await stage(`reading-${prompt}`, from, to, readingSettings, reading(prompt, updates, seed))).steps;
    from = to;
  }

  const items = warmStartItems(split('train'), train, templates, mulberry32(o.seed));
  const videoSettings = trainSettings(o);
  const { steps, final } = await stage('video', from, o.out, videoSettings, async (vlm) => {
    const video = { features: new VideoFeatures(vlm, o.ffmpeg, o.cacheDir), frames: o.frames, tower: false };
    const examples: TrainExample[] = [];
    for (const [i, item] of items.entries()) {
      progress('features', i, items.length);
      examples.push(await trainingExample(vlm, { messages: item.messages, chosen: item.target, video: join(data, item.video) }, video));
    }
    return examples;
  });

  const measured = await heldOut(o, data, split('test'), test, templates);
  const result: DemoModelResult = { readingSteps, examples: items.length, steps, final, ...measured };
  writeFileSync(join(work, 'summary.json'), `${JSON.stringify({ data, settings: { video: videoSettings, reading: readingSettings }, ...result }, null, 2)}\n`);
  return result;
}

/**
 * One stage of the warm start: SFT of the model in `from` on `examples`, merged into `to`. Its state
 * and metrics live in `dir`, saved every update, so a killed run resumes the stage, and a finished
 * stage run again only rewrites the same merged model.
 */
async function trainStage(s: {
  name: string; from: string; to: string; dir: string; settings: TrainConfig;
  examples: (vlm: VideoLanguageModel) => Promise<TrainExample[]>;
  progress: NonNullable<DemoModelOptions['onProgress']>;
}): Promise<{ steps: number; final: StepMetrics | null }> {
  const vlm = await VideoLanguageModel.load(s.from);
  try {
    return await runTraining({
      model: vlm, from: s.from, examples: await s.examples(vlm), settings: s.settings, stateDir: join(s.dir, 'state'),
      metricsFile: join(s.dir, 'metrics.jsonl'), mergedDir: s.to,
      onStep: (m, total) => s.progress(s.name, m.step, total, `loss ${m.loss.toFixed(4)}`),
    });
  } finally {
    await vlm.release();
  }
}

/**
 * Shifts the projector's output bias so the training clips' visual tokens average zero: a
 * closed-form stand-in for the alignment stage a real VLM's projector went through. A random tower's
 * tokens share a large common part (the dark background, biases) that swamps what tells clips apart
 * and dwarfs the text embeddings; centring removes it (docs/experiments/README.md has the figures).
 * A family whose connector has no output bias (Idefics3) is left as written.
 */
async function centreProjector(dir: string, bias: string, videos: string[], o: DemoModelOptions): Promise<void> {
  const vlm = await VideoLanguageModel.load(dir);
  const tensors: Record<string, TensorToWrite> = {};
  try {
    const features = new VideoFeatures(vlm, o.ffmpeg, o.cacheDir);
    const hidden = vlm.config.text.hiddenSize;
    const sum = new Float64Array(hidden);
    let rows = 0;
    for (const [i, video] of videos.entries()) {
      o.onProgress?.('centring the projector', i, videos.length);
      const f = await features.of(video, o.frames);
      // Rows such as image_newline are weights of their own, not the projector's output.
      const n = f.length / hidden - familyOf(vlm.config).appendedVisualRows;
      for (let t = 0; t < n; t++) for (let h = 0; h < hidden; h++) sum[h] += f[t * hidden + h];
      rows += n;
    }
    for (const [name, shape] of expectedWeights(vlm.config)) tensors[name] = { dtype: 'F32', shape, data: vlm.weights.get(name) };
    tensors[bias] = { dtype: 'F32', shape: [hidden], data: (tensors[bias].data as Float32Array).map((b, h) => b - sum[h] / rows) };
  } finally {
    await vlm.release();
  }
  writeCheckpoint(dir, tensors, { metadata: { format: 'pt' } });
}

/** The merged model on the test split: answers scored by exact match, judge items by their verdict. */
async function heldOut(o: DemoModelOptions, data: string, clips: DemoClip[], questions: DemoQuestion[], templates: Templates) {
  const vlm = await VideoLanguageModel.load(o.out);
  try {
    const features = new VideoFeatures(vlm, o.ffmpeg, o.cacheDir);
    const visual = (video: string) => features.of(join(data, video), o.frames);
    const answers = await evaluateAnswers(vlm, features, questions.map((q) => ({ question: q.question, video: join(data, q.video), reference: q.answer })), {
      templates, frames: o.frames, maxNewTokens: 32, scorer: exactMatchScorer, onProgress: (i, total) => o.onProgress?.('held-out answers', i, total),
    });
    const correct = answers.filter((a) => a.score === 1).length;
    // The judge items of the test split (fresh distractors from a seed of their own), judged in both
    // orders and averaged, as a round judges its pairs.
    const judgeItems = warmStartItems(clips, questions, templates, mulberry32(o.seed + 1)).flatMap((it) => (it.judge ? [{ ...it, judge: it.judge }] : []));
    const [lo, hi] = runSettingsDefaults.tieBand;
    let right = 0;
    let decided = 0;
    for (const [i, item] of judgeItems.entries()) {
      o.onProgress?.('held-out judging', i, judgeItems.length);
      const p = await judgePair(vlm, templates, item.judge, await visual(item.video), await features.shown(join(data, item.video), o.frames));
      const pBetter = item.target === 'A' ? p : 1 - p;
      if (pBetter > 0.5) right++;
      if (p < lo || p > hi) decided++;
    }
    // The reading stage's skill, kept or lost: the judge template on fresh text-only items.
    const readingCheck = readingItems(readingChecks, 'full', templates, mulberry32(o.seed + 300));
    let read = 0;
    for (const [i, item] of readingCheck.entries()) {
      o.onProgress?.('held-out reading', i, readingCheck.length);
      const p = await judgePair(vlm, templates, item.text!, null, { frames: 0 });
      if ((p > 0.5) === (item.target === 'A')) read++;
    }
    return { answers: questions.length, accuracy: share(correct, questions.length), judged: judgeItems.length, judgeAccuracy: share(right, judgeItems.length), judgeDecided: share(decided, judgeItems.length), readingAccuracy: share(read, readingCheck.length) };
  } finally {
    await vlm.release();
  }
}

const readingChecks = 100;
const share = (n: number, of: number) => (of === 0 ? 0 : n / of);

/** p(the first response is better), judged as shown and swapped, as a round judges its pairs. */
async function judgePair(vlm: VideoLanguageModel, templates: Templates, text: JudgeText, features: Float32Array | null, video: PromptVideo): Promise<number> {
  return (await judgeBothOrders(vlm, templates, { ...text, features, video })).pA;
}

/** What `demo-model` measured of the starting policy, when it made it. */
export function warmStartNote(model: string): string | null {
  const file = join(model, 'training', 'summary.json');
  if (!existsSync(file)) return null;
  const s = JSON.parse(readFileSync(file, 'utf8')) as Partial<DemoModelResult>;
  if (typeof s.accuracy !== 'number' || typeof s.judgeAccuracy !== 'number') return null;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const reading = s.readingSteps && s.readingSteps.short + s.readingSteps.full > 0
    ? `${s.readingSteps.short} + ${s.readingSteps.full} reading steps on text-only judge items about synthetic scenes, a short prompt and then the judge template with a description (which favours the modes that show the judge one), then `
    : '';
  const judged = `judge accuracy ${pct(s.judgeAccuracy)} of ${count(s.judged ?? 0, 'held-out judge item')}${typeof s.judgeDecided === 'number' ? ` (${pct(s.judgeDecided)} outside the tie band)` : ''}`;
  return `warm-started by \`isr-studio demo-model\` (${reading}${count(s.steps ?? 0, 'SFT step')} on ${count(s.examples ?? 0, 'item')}): held-out accuracy ${pct(s.accuracy)} of ${count(s.answers ?? 0, 'question')}, ${judged}`;
}
