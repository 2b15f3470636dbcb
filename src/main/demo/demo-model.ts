// `isr-studio demo-model`: the warm start the demo's rounds begin from. A `demo`-sized fixture of one
// family is written and trained with SFT (LoRA on every projection of the decoder, the token
// embeddings and the head trained whole) in four stages, each merged before the next: reading with
// match items (text only, on synthetic scenes: reading.ts says why), reading with judge items and
// match items mixed, the warm-start items of the demo data's train split and the policy's items on
// clips the warm start renders for itself, with their videos and reading items still mixed in, and
// a short last reading stage at a lower rate, on long scenes, that settles the judge. The result is
// measured on the test split: answer accuracy (normalised exact match, as rounds score it) and the
// judge on held-out judge items, judged in both orders as a round judges, with the clip's
// description and without. Training state is saved every few updates, so running the command
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
import { readingItems, type ReadingItem } from './reading';
import { exactMatchScorer } from '../isr/scorer';
import { runSettingsDefaults } from '../isr/settings';
import { loadTemplates, templateNames, type Templates } from '../isr/templates';
import { trainingExample } from '../isr/training-example';
import { runTraining } from '../isr/training-pipeline';
import { VideoFeatures } from '../isr/video-features';
import { writeDemoData } from './data/write';
import { readDemoData, warmStartItems, type DemoClip, type DemoQuestion, type WarmStartItem, type WarmStartTask } from './warm-start';

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
  /** Learning rate of the reading stages (constant) and peak rate of the video stage (cosine). */
  lr: number;
  videoLr: number;
  frames: number;
  /** Updates (of 8 fresh text-only items each) of the reading stage with match items, then with judge and match items mixed,
   *  and of the last reading stage, after the video stage. */
  readingMatch: number;
  readingJudge: number;
  readingSettle: number;
  /** Clips the warm start renders for itself (a stand-in for a real model's video pretraining):
   *  their captions, corrections and answers join the video stage. 0: the demo data's train split alone. */
  pretrainingClips: number;
  ffmpeg: string;
  cacheDir: string;
  onProgress?: (phase: string, done: number, total: number, detail?: string) => void;
}

export interface DemoModelResult {
  /** Updates of the three reading stages. */
  readingSteps: { match: number; judge: number; settle: number };
  /** Items of the video stage (warm-start items, those of the pretraining clips and the reading items mixed in), and its updates. */
  examples: number;
  steps: number;
  final: StepMetrics | null;
  /** Held-out answers scored correct, of `answers`. */
  answers: number;
  accuracy: number;
  /** The judge on held-out judge items, with the clip's description (what isr's judge reads) and
   *  with the video alone (no-context's judge). */
  judge: Record<HeldOutContext, HeldOutJudge>;
  /** The judge template on fresh text-only judge items about synthetic scenes, after the video stage. */
  readingAccuracy: number;
  /** The language prior on the test split's prior items (no video, no description): the share
   *  where the judge prefers the longer response. */
  priorLonger: number;
}

export type HeldOutContext = 'description' | 'video';

/** How reports name what the judge saw, and whose judge in a round sees that. */
export const heldOutContexts: Record<HeldOutContext, { sees: string; judge: string }> = {
  description: { sees: 'with the clip\'s description', judge: 'isr\'s' },
  video: { sees: 'with the video alone', judge: 'no-context\'s' },
};

export interface HeldOutJudge {
  /** Items decided the right way (the better answer's probability, averaged over both orders, above
   *  0.5), of `judged`; `decided`: the share outside the rounds' default tie band. */
  judged: number;
  accuracy: number;
  decided: number;
}

export const demoModelDefaults = {
  arch: 'llava-onevision', size: 'demo', seed: 1, epochs: 3, lr: 5e-4, videoLr: 1e-3, frames: 8, readingMatch: 2000, readingJudge: 4000, readingSettle: 600, pretrainingClips: 300,
} as const satisfies Partial<DemoModelOptions>;

/** The warm start's training settings: SFT with a wide adapter and the embeddings and head trained
 *  whole, since the fixture starts from random weights. The projector stays frozen: trained along,
 *  it made the clips' visual tokens alike and held-out accuracy fell (docs/experiments/README.md). */
function trainSettings(o: DemoModelOptions, lr: number): TrainConfig {
  return {
    ...defaultTrainConfig, loss: 'sft', lr, epochs: o.epochs, batchSize: 4, warmupRatio: 0.05, seed: o.seed, trainProjector: false, trainEmbeddings: true,
    lora: { ...defaultTrainConfig.lora, r: 32, alpha: 64 },
  };
}

/** Updates between saves of a stage's state (the adapters, embeddings and head with their moments,
 *  about 10 MB): not rewritten after every update of a fraction of a second, and a killed stage
 *  resumes losing at most these few seconds of work. */
const stateSaveEvery = 25;

/** Each reading update sees 8 items never seen before: one epoch over fresh synthetic scenes. */
const readingBatch = 8;
/** The share of match items among the pairs of the judge reading stage and of the video stage's reading items. */
const matchShareLater = 1 / 3;
/** The last reading stage's rate, as a share of the reading stages' (2e-4 of 5e-4 in the probes). */
const settleRateShare = 0.4;

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
  const textOnly = (vlm: VideoLanguageModel, items: readonly ReadingItem[]) => Promise.all(items.map((item) => trainingExample(vlm, { messages: item.messages, chosen: item.target }, null)));
  // The reading stages draw their scenes from seeds of their own: nothing of the demo data's clips.
  // Match items at a constant rate: the binding of A and B comes after a plateau, which a decaying
  // rate would prolong. Judge items, once it is bound, learn more as the rate decays (a rate held at
  // the match stage's gained less per update than a lower one; docs/experiments/README.md).
  // The video stage then takes a higher rate: at the reading stages' the policy answered barely above guessing.
  const readingSettings = (lr: number, schedule: TrainConfig['schedule']): TrainConfig => ({ ...trainSettings(o, lr), epochs: 1, batchSize: readingBatch, schedule });
  const settings = {
    match: readingSettings(o.lr, 'constant'), judge: readingSettings(o.lr, 'cosine'), video: trainSettings(o, o.videoLr), settle: readingSettings(o.lr * settleRateShare, 'constant'),
  };
  const reading = (task: keyof DemoModelResult['readingSteps'], from: string, to: string, updates: number, matchShare: number, seed: number, longScenes = false) =>
    stage(`reading-${task}`, from, to, settings[task], (vlm) => textOnly(vlm, readingItems(updates * readingBatch, matchShare, templates, mulberry32(seed), longScenes)));
  let from = base;
  const readingSteps = { match: 0, judge: 0, settle: 0 };
  for (const [task, updates, matchShare, seed] of [['match', o.readingMatch, 1, o.seed + 100], ['judge', o.readingJudge, matchShareLater, o.seed + 200]] as const) {
    if (updates === 0) continue;
    const to = join(work, `reading-${task}`, 'model');
    readingSteps[task] = (await reading(task, from, to, updates, matchShare, seed)).steps;
    from = to;
  }

  const items = [...inFolder(warmStartItems(split('train'), train, templates, mulberry32(o.seed)), data), ...(await pretrainingItems(o, join(work, 'clips'), templates))];
  // Reading items stay mixed in, as many as the video stage's judge items, so the binding is kept.
  const mixedIn = readingItems(items.filter((i) => i.task === 'judge').length, matchShareLater, templates, mulberry32(o.seed + 400));
  const videoModel = o.readingSettle === 0 ? o.out : join(work, 'video', 'model');
  const { steps, final } = await stage('video', from, videoModel, settings.video, async (vlm) => {
    const video = { features: new VideoFeatures(vlm, o.ffmpeg, o.cacheDir), frames: o.frames, tower: false };
    const examples: TrainExample[] = [];
    for (const [i, item] of items.entries()) {
      progress('features', i, items.length);
      examples.push(await trainingExample(vlm, { messages: item.messages, chosen: item.target, ...(item.video === undefined ? {} : { video: item.video }) }, video));
    }
    return [...examples, ...(await textOnly(vlm, mixedIn))];
  });
  // The video stage's higher rate can cost the judge some of its reading; a few updates at a lower
  // rate than the reading stages' restore it, and drawn mostly from long scenes (where the judge
  // errs most) they gained more than uniformly drawn ones (docs/experiments/README.md).
  if (o.readingSettle > 0) readingSteps.settle = (await reading('settle', videoModel, o.out, o.readingSettle, matchShareLater, o.seed + 500, true)).steps;

  const measured = await heldOut(o, data, split('test'), test, templates);
  const result: DemoModelResult = { readingSteps, examples: items.length + mixedIn.length, steps, final, ...measured };
  writeFileSync(join(work, 'summary.json'), `${JSON.stringify({ data, pretrainingClips: o.pretrainingClips, settings, ...result }, null, 2)}\n`);
  return result;
}

/** Items whose videos are named by their path, not relative to `data`. */
const inFolder = (items: WarmStartItem[], data: string): WarmStartItem[] => items.map((it) => (it.video === undefined ? it : { ...it, video: join(data, it.video) }));

/**
 * The policy's items (describe, correct a description, answer) on clips the warm start renders for
 * itself in `dir`, from a seed of its own: on the demo data's few train clips alone the policy
 * learned those clips rather than the shapes (docs/experiments/README.md). Judge items stay the
 * demo data's, as in a round.
 */
async function pretrainingItems(o: DemoModelOptions, dir: string, templates: Templates): Promise<WarmStartItem[]> {
  if (o.pretrainingClips === 0) return [];
  if (!existsSync(join(dir, 'clips.jsonl'))) {
    const fresh = `${dir}.partial`;
    rmSync(fresh, { recursive: true, force: true });
    await writeDemoData(o.ffmpeg, fresh, { videos: o.pretrainingClips, testClips: 0, seed: o.seed + 600, onClip: (done, total) => o.onProgress?.('pretraining clips', done, total) });
    renameSync(fresh, dir);
  }
  const { clips, train } = readDemoData(dir);
  const policyTasks: readonly WarmStartTask[] = ['describe', 'retrospect', 'answer'];
  return inFolder(warmStartItems(clips, train, templates, mulberry32(o.seed + 700)).filter((it) => policyTasks.includes(it.task)), dir);
}

/**
 * One stage of the warm start: SFT of the model in `from` on `examples`, merged into `to`. Its state
 * and metrics live in `dir`, saved every few updates, so a killed run resumes the stage, and a finished
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
      metricsFile: join(s.dir, 'metrics.jsonl'), mergedDir: s.to, saveEvery: stateSaveEvery,
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
    const answers = await evaluateAnswers(vlm, features, questions.map((q) => ({ question: q.question, video: join(data, q.video), reference: q.answer })), {
      templates, frames: o.frames, maxNewTokens: 32, scorer: exactMatchScorer, onProgress: (i, total) => o.onProgress?.('held-out answers', i, total),
    });
    const correct = answers.filter((a) => a.score === 1).length;
    // The judge items of the test split, with fresh distractors drawn from seeds of their own (three
    // draws: a share measured on a single draw of 154 items moved by about 4 points between draws),
    // judged in both orders and averaged, as a round judges its pairs; the prior items (nothing to
    // check) of the first draw apart.
    const draws = [1, 2, 3].map((k) => warmStartItems(clips, questions, templates, mulberry32(o.seed + k)));
    const [lo, hi] = runSettingsDefaults.tieBand;
    const judged = draws.flatMap((items) => items.filter((it) => it.task === 'judge'));
    const prior = draws[0].filter((it) => it.task === 'prior');
    const tally = { description: { judged: 0, right: 0, decided: 0 }, video: { judged: 0, right: 0, decided: 0 } };
    let longer = 0;
    for (const [i, item] of [...judged, ...prior].entries()) {
      o.onProgress?.('held-out judging', i, judged.length + prior.length);
      const video = item.video === undefined ? null : join(data, item.video);
      const p = await judgePair(vlm, templates, item.judge!, video === null ? null : await features.of(video, o.frames), video === null ? { frames: 0 } : await features.shown(video, o.frames));
      const pBetter = item.target.trim() === 'A' ? p : 1 - p;
      if (item.task === 'prior') {
        if (pBetter > 0.5) longer++;
        continue;
      }
      const t = tally[item.judge!.context === null ? 'video' : 'description'];
      t.judged++;
      if (pBetter > 0.5) t.right++;
      if (p < lo || p > hi) t.decided++;
    }
    const judge = (t: (typeof tally)[HeldOutContext]): HeldOutJudge => ({ judged: t.judged, accuracy: share(t.right, t.judged), decided: share(t.decided, t.judged) });
    // The reading stages' skill, kept or lost: the judge template on fresh text-only judge items.
    const readingCheck = readingItems(readingChecks, 0, templates, mulberry32(o.seed + 300)).filter((_, k) => k % 2 === 0);
    let read = 0;
    for (const [i, item] of readingCheck.entries()) {
      o.onProgress?.('held-out reading', i, readingCheck.length);
      const p = await judgePair(vlm, templates, item.text, null, { frames: 0 });
      if ((p > 0.5) === (item.better === 'A')) read++;
    }
    return {
      answers: questions.length, accuracy: share(correct, questions.length), judge: { description: judge(tally.description), video: judge(tally.video) },
      readingAccuracy: share(read, readingCheck.length), priorLonger: share(longer, prior.length),
    };
  } finally {
    await vlm.release();
  }
}

const readingChecks = 200;
const share = (n: number, of: number) => (of === 0 ? 0 : n / of);

/** p(the first response is better), judged as shown and swapped, as a round judges its pairs. */
async function judgePair(vlm: VideoLanguageModel, templates: Templates, text: JudgeText, features: Float32Array | null, video: PromptVideo): Promise<number> {
  return (await judgeBothOrders(vlm, templates, { ...text, features, video })).pA;
}

/** What `demo-model` measured of the starting policy, when it made it (null for a folder it did not
 *  make, or made before the judge was measured by context). */
export function warmStartNote(model: string): string | null {
  const file = join(model, 'training', 'summary.json');
  if (!existsSync(file)) return null;
  const s = JSON.parse(readFileSync(file, 'utf8')) as Partial<DemoModelResult>;
  if (typeof s.accuracy !== 'number' || s.judge?.description === undefined || s.judge.video === undefined || s.readingSteps === undefined) return null;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const { match, judge, settle } = s.readingSteps;
  const reading = match + judge > 0
    ? `${match} + ${judge} reading steps on text-only judge items about synthetic scenes, with the answer and then a description given (which favours the modes that show the judge one), then `
    : '';
  const judged = (j: HeldOutJudge, sees: string) => `${pct(j.accuracy)} of ${count(j.judged, 'held-out judge item')} ${sees} (${pct(j.decided)} outside the tie band)`;
  return `warm-started by \`isr-studio demo-model\` (${reading}${count(s.steps ?? 0, 'SFT step')} on ${count(s.examples ?? 0, 'item')}${settle > 0 ? `, then ${settle} reading steps at a lower rate` : ''}): ` +
    `held-out accuracy ${pct(s.accuracy)} of ${count(s.answers ?? 0, 'question')}; judge accuracy ${judged(s.judge.description, heldOutContexts.description.sees)}, ${judged(s.judge.video, heldOutContexts.video.sees)}` +
    `${typeof s.priorLonger === 'number' ? `; with nothing to check, it prefers the longer response on ${pct(s.priorLonger)} of held-out pairs (the declared language prior)` : ''}`;
}
