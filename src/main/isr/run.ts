// An ISR-DPO run (METHOD.md): round after round, the policy samples responses, writes (and in mode
// isr, refines) a visual context per video, judges its own response pairs in both orders, and is
// trained with DPO on the resulting preferences; then the new policy is evaluated on held-out
// prompts. Every item is committed as it is produced and every phase asks the store what is
// already there, so a run killed at any moment resumes without redoing or losing stored work.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { concatTyped } from '../../shared/arrays';
import { ApiError } from '../../shared/errors';
import type { RoundSummary, RunMode } from '../../shared/types';
import { modelFingerprint } from '../engine/model/model-fingerprint';
import { userTurn } from '../engine/model/tokenizer';
import { VideoLanguageModel } from '../engine/model/vlm';
import { defaultTrainConfig, Trainer, type TrainExample } from '../engine/train/trainer';
import type { Db } from '../store/db';
import { pagePrompts, countPrompts, type PromptWithVideo } from '../store/prompts';
import {
  contextsOf, createRun, effectiveChoice, ensureRound, evaluationsOf, getRun, judgmentsOf, pairsOf, registerModel, responsesOf, roundsOf, saveContext,
  saveEvaluation, saveJudgment, savePair, saveResponse, saveTrainStep, setRoundOutput, setRoundPhase, setRunStatus, type ResponseRecord, type RoundRecord, type RunRecord,
} from '../store/rounds';
import { bothOrders, judge } from './judge';
import { accuracy, exactMatchScorer, openAiScorer, type AnswerScorer } from './scorer';
import { parseRunSettings, type RunSettings } from './settings';
import { fill, loadTemplates, type Templates } from './templates';
import { VideoFeatures } from './video-features';

export interface RunProgress {
  round: number;
  phase: string;
  done: number;
  total: number;
  /** Training: the latest step's figures under TRL's names. */
  detail?: string;
}

export interface RunEnvironment {
  db: Db;
  ffmpeg: string;
  /** Frames and vision features (shared by every run). */
  cacheDir: string;
  /** Where each round's trained adapter, merged model and training state go. */
  runsDir: string;
  onProgress?: (p: RunProgress) => void;
  onRoundDone?: (summary: RoundSummary) => void;
  signal?: AbortSignal;
}

function allPrompts(db: Db, datasetId: number): PromptWithVideo[] {
  return pagePrompts(db, datasetId, 0, countPrompts(db, datasetId));
}

/** Registers the run (settings validated first, so nothing is stored for a bad one) and returns its id. */
export async function createRunRecord(db: Db, o: { model: string; mode: RunMode; datasetId: number; evalDatasetId: number | null; rounds: number; settings: unknown }): Promise<number> {
  const settings = parseRunSettings(o.settings);
  if (countPrompts(db, o.datasetId) === 0) throw new ApiError('invalid_argument', `dataset ${o.datasetId} has no prompts to train on`);
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new ApiError('invalid_argument', `rounds must be a whole number >= 1, got ${o.rounds}`);
  // Every file of the folder is checked before the run is stored; no session is needed for that.
  const family = VideoLanguageModel.check(o.model).arch;
  const modelId = registerModel(db, { path: o.model, family, fingerprint: await modelFingerprint(o.model) });
  return createRun(db, { mode: o.mode, datasetId: o.datasetId, evalDatasetId: o.evalDatasetId, startModelId: modelId, roundsPlanned: o.rounds, settings });
}

const modelPath = (db: Db, id: number) => db.prepare('SELECT path FROM models WHERE id = ?').pluck().get(id) as string;

/** Runs (or resumes) run `runId` to its last round. */
export async function runRounds(runId: number, env: RunEnvironment): Promise<RoundSummary[]> {
  const run = getRun(env.db, runId);
  if (!run) throw new ApiError('not_found', `no run ${runId}`);
  const settings = parseRunSettings(run.settings, `run ${runId} settings`);
  const templates = loadTemplates();
  setRunStatus(env.db, runId, 'running');
  const summaries: RoundSummary[] = [];
  try {
    let policy = run.startModelId;
    if (run.evalDatasetId !== null) {
      const baseline = ensureRound(env.db, runId, 0, policy, templates);
      if (baseline.phase !== 'done') await withModel(modelPath(env.db, policy), (vlm) => evaluate(env, run, settings, baseline, vlm));
      setRoundPhase(env.db, baseline.id, 'done');
    }
    for (let t = 1; t <= run.roundsPlanned; t++) {
      const round = ensureRound(env.db, runId, t, policy, templates);
      if (round.phase !== 'done') await runRound(env, run, settings, round);
      const finished = roundsOf(env.db, runId).find((r) => r.round === t)!;
      summaries.push(summarise(env.db, finished, settings));
      env.onRoundDone?.(summaries.at(-1)!);
      policy = finished.outputModelId ?? policy;
    }
    setRunStatus(env.db, runId, 'done');
    return summaries;
  } catch (err) {
    const cancelled = err instanceof ApiError && err.code === 'cancelled';
    setRunStatus(env.db, runId, cancelled ? 'stopped' : 'failed', cancelled ? null : (err as Error).message);
    throw err;
  }
}

async function withModel<T>(path: string, f: (vlm: VideoLanguageModel) => Promise<T>): Promise<T> {
  const vlm = await VideoLanguageModel.load(path);
  try {
    return await f(vlm);
  } finally {
    await vlm.release();
  }
}

function check(env: RunEnvironment): void {
  if (env.signal?.aborted) throw new ApiError('cancelled', 'run cancelled');
}

async function runRound(env: RunEnvironment, run: RunRecord, settings: RunSettings, round: RoundRecord): Promise<void> {
  const { db } = env;
  const prompts = allPrompts(db, run.datasetId);
  const templates = round.templates as Templates;
  const policyPath = modelPath(db, round.policyModelId);
  const progress = (phase: string, done: number, total: number, detail?: string) => env.onProgress?.({ round: round.round, phase, done, total, detail });

  await withModel(policyPath, async (vlm) => {
    const features = new VideoFeatures(vlm, env.ffmpeg, env.cacheDir);
    const visual = (p: PromptWithVideo) => features.of(p.video.path, settings.frames);
    const videoPrompt = (text: string, withVideo: boolean) => vlm.prompt(userTurn(text, withVideo), withVideo ? settings.frames : 0);

    // 1. Responses: K samples per prompt, re-sampled (new seed) when two come out identical.
    setRoundPhase(db, round.id, 'responses');
    const storedResponses = groupResponses(db, round.id);
    for (const [i, p] of prompts.entries()) {
      check(env);
      progress('responses', i, prompts.length);
      const have = storedResponses.get(p.id) ?? [];
      const stored = new Set(have.map((r) => r.sample));
      if (Array.from({ length: settings.samples }, (_, k) => stored.has(k)).every(Boolean)) continue;
      const input = { prompt: videoPrompt(fill(templates.answer, { question: p.question }, 'answer'), true), features: await visual(p) };
      const texts = new Set(have.map((r) => r.text));
      for (let k = 0; k < settings.samples; k++) {
        if (stored.has(k)) continue;
        for (let attempt = 0; ; attempt++) {
          const seed = settings.seed * 1_000_003 + round.round * 10_007 + p.id * 101 + k * 7 + attempt * 1_000_000_007;
          const [g] = await vlm.generate([input], { maxNewTokens: settings.maxNewTokens, temperature: settings.temperature, topP: settings.topP, seed: seed % 2 ** 31 });
          if (!texts.has(g.text) || attempt >= 3) {
            texts.add(g.text);
            saveResponse(db, round.id, { promptId: p.id, sample: k, text: g.text, tokenCount: g.tokenIds.length, seed: seed % 2 ** 31 });
            break;
          }
        }
      }
    }

    // 2. Contexts: c_t per video; mode isr refines c_{t-1} of this run, no-retrospect starts afresh.
    setRoundPhase(db, round.id, 'contexts');
    const contexts = new Map(contextsOf(db, round.id).map((c) => [c.videoId, c]));
    if (run.mode === 'isr' || run.mode === 'no-retrospect') {
      const previous = run.mode === 'isr' ? previousContexts(db, run.id, round.round) : new Map();
      const videos = [...new Map(prompts.map((p) => [p.video.id, p])).values()];
      for (const [i, p] of videos.entries()) {
        check(env);
        progress('contexts', i, videos.length);
        if (contexts.has(p.video.id)) continue;
        const before = previous.get(p.video.id);
        const text = before ? fill(templates.retrospect, { previous: before.text }, 'retrospect') : templates.describe;
        const [g] = await vlm.generate([{ prompt: videoPrompt(text, true), features: await visual(p) }], { maxNewTokens: settings.contextTokens });
        const id = saveContext(db, round.id, { videoId: p.video.id, text: g.text, refinedId: before?.id ?? null });
        contexts.set(p.video.id, { id, videoId: p.video.id, text: g.text, refinedId: before?.id ?? null });
      }
    }

    // 3. Judging, both orders of each pair (0, 1), (2, 3), ...
    setRoundPhase(db, round.id, 'judging');
    const judged = new Set(judgmentsOf(db, round.id).map((j) => verdictKey(j.responseAId, j.responseBId, j.shownFirst)));
    const byPrompt = groupResponses(db, round.id);
    for (const [i, p] of prompts.entries()) {
      check(env);
      progress('judging', i, prompts.length);
      const responses = byPrompt.get(p.id) ?? [];
      const context = contexts.get(p.video.id) ?? null;
      for (let k = 0; k + 1 < responses.length; k += 2) {
        const [a, b] = [responses[k], responses[k + 1]];
        for (const shownFirst of ['a', 'b'] as const) {
          if (judged.has(verdictKey(a.id, b.id, shownFirst))) continue;
          const [first, second] = shownFirst === 'a' ? [a, b] : [b, a];
          const verdict = await judge(vlm, templates, {
            question: p.question, first: first.text, second: second.text, frames: settings.frames,
            context: run.mode === 'isr' || run.mode === 'no-retrospect' ? (context?.text ?? null) : null,
            features: run.mode === 'text-judge' ? null : await visual(p),
          });
          const att = verdict.attention;
          saveJudgment(db, round.id, {
            responseAId: a.id, responseBId: b.id, shownFirst, contextId: run.mode === 'isr' || run.mode === 'no-retrospect' ? (context?.id ?? null) : null, pFirst: verdict.pFirst,
            attention: att ? { frames: att.maps.length, rows: att.rows, cols: att.cols, data: concatTyped(att.maps, (n) => new Float32Array(n)) } : null, visualShare: att?.visualShare ?? null,
          });
        }
      }
    }

    // 4. Pairs: the two orders averaged; inside the tie band, a tie (not trained on).
    setRoundPhase(db, round.id, 'pairs');
    const [lo, hi] = settings.tieBand;
    const verdicts = new Map(judgmentsOf(db, round.id).map((j) => [verdictKey(j.responseAId, j.responseBId, j.shownFirst), j.pFirst]));
    for (const p of prompts) {
      const responses = byPrompt.get(p.id) ?? [];
      for (let k = 0; k + 1 < responses.length; k += 2) {
        const [a, b] = [responses[k], responses[k + 1]];
        const pA = bothOrders(verdicts.get(verdictKey(a.id, b.id, 'a'))!, verdicts.get(verdictKey(a.id, b.id, 'b'))!);
        savePair(db, round.id, { promptId: p.id, responseAId: a.id, responseBId: b.id, pA, judgeChoice: pA > hi ? 'a' : pA < lo ? 'b' : 'tie' });
      }
    }

    // 5. DPO with the round's starting policy as reference.
    setRoundPhase(db, round.id, 'training');
    if (round.outputModelId === null) {
      const dir = join(env.runsDir, `run-${run.id}`, `round-${round.round}`);
      const examples = await trainingExamples(db, round, prompts, byPrompt, vlm, videoPrompt, visual, settings, features);
      let output = round.policyModelId;
      if (examples.length > 0) {
        const trainer = Trainer.create(vlm, examples, trainSettings(settings), join(dir, 'state'));
        progress('reference log-probs', 0, examples.length);
        const reference = await trainer.referenceLogps((done, total) => progress('reference log-probs', done, total));
        const state = await trainer.train({
          reference, signal: env.signal, saveEvery: 1,
          onStep: (m) => {
            saveTrainStep(db, round.id, m.step, m.epoch, m);
            progress('training', m.step, trainer.totalSteps, `loss ${m.loss.toFixed(4)}, rewards/accuracies ${m['rewards/accuracies'].toFixed(2)}, rewards/margins ${m['rewards/margins'].toFixed(4)}`);
          },
        });
        mkdirSync(dir, { recursive: true });
        trainer.writeAdapter(join(dir, 'adapter'), state, policyPath);
        trainer.writeMerged(join(dir, 'model'), policyPath, state);
        output = registerModel(db, { path: join(dir, 'model'), family: vlm.config.arch, fingerprint: await modelFingerprint(join(dir, 'model')), parentId: round.policyModelId });
      }
      setRoundOutput(db, round.id, output);
      round.outputModelId = output;
    }
  });

  // 6. Evaluation of the round's output policy.
  setRoundPhase(db, round.id, 'evaluation');
  if (run.evalDatasetId !== null) await withModel(modelPath(db, round.outputModelId!), (vlm) => evaluate(env, run, settings, round, vlm));
  setRoundPhase(db, round.id, 'done');
}

const verdictKey = (a: number, b: number, shownFirst: 'a' | 'b') => `${a}:${b}:${shownFirst}`;

function groupResponses(db: Db, roundId: number) {
  const byPrompt = new Map<number, ResponseRecord[]>();
  for (const r of responsesOf(db, roundId)) {
    const list = byPrompt.get(r.promptId);
    if (list) list.push(r);
    else byPrompt.set(r.promptId, [r]);
  }
  return byPrompt;
}

/** This run's contexts of the round before, by video: what mode isr refines. */
function previousContexts(db: Db, runId: number, round: number) {
  const before = roundsOf(db, runId).find((r) => r.round === round - 1);
  return new Map(before ? contextsOf(db, before.id).map((c) => [c.videoId, c]) : []);
}

function trainSettings(s: RunSettings) {
  const t = s.train;
  return {
    ...defaultTrainConfig, loss: t.loss, beta: t.beta, lr: t.lr, epochs: t.epochs, batchSize: t.batchSize, sftWeight: t.sftWeight, lengthPenalty: t.lengthPenalty,
    trainProjector: t.trainProjector, seed: s.seed, lora: { r: t.loraR, alpha: t.loraAlpha, dropout: 0, targets: t.loraTargets },
  };
}

/** The round's preferences (override in force, else the judge; ties dropped) as training examples.
 *  The context is not part of the training input: it only informed the judge (METHOD.md step 4). */
async function trainingExamples(
  db: Db, round: RoundRecord, prompts: PromptWithVideo[], byPrompt: ReturnType<typeof groupResponses>, vlm: VideoLanguageModel,
  videoPrompt: (text: string, withVideo: boolean) => ReturnType<VideoLanguageModel['prompt']>, visual: (p: PromptWithVideo) => Promise<Float32Array>,
  settings: RunSettings, features: VideoFeatures,
): Promise<TrainExample[]> {
  const eot = vlm.tokenizer.stopTokenIds()[0];
  const responses = new Map([...byPrompt.values()].flat().map((r) => [r.id, r]));
  const examples: TrainExample[] = [];
  const promptById = new Map(prompts.map((p) => [p.id, p]));
  for (const pair of pairsOf(db, round.id)) {
    const choice = effectiveChoice(pair);
    if (choice === 'tie') continue;
    const p = promptById.get(pair.promptId)!;
    const [chosen, rejected] = choice === 'a' ? [pair.responseAId, pair.responseBId] : [pair.responseBId, pair.responseAId];
    const prompt = videoPrompt(fill((round.templates as Templates).answer, { question: p.question }, 'answer'), true);
    const ids = (id: number) => [...vlm.tokenizer.encode(responses.get(id)!.text), eot];
    examples.push({
      prompt: prompt.inputIds, chosen: ids(chosen), rejected: ids(rejected),
      visual: { tokenId: prompt.visualTokenId!, features: await visual(p) },
      tower: settings.train.trainProjector ? await features.of(p.video.path, settings.frames, 'tower') : undefined,
    });
  }
  return examples;
}

async function evaluate(env: RunEnvironment, run: RunRecord, settings: RunSettings, round: RoundRecord, vlm: VideoLanguageModel): Promise<void> {
  const prompts = allPrompts(env.db, run.evalDatasetId!);
  const done = new Set(evaluationsOf(env.db, round.id).map((e) => e.promptId));
  const features = new VideoFeatures(vlm, env.ffmpeg, env.cacheDir);
  const scorer = scorerOf(settings);
  for (const [i, p] of prompts.entries()) {
    check(env);
    env.onProgress?.({ round: round.round, phase: 'evaluation', done: i, total: prompts.length });
    if (done.has(p.id)) continue;
    const prompt = vlm.prompt(userTurn(fill((round.templates as Templates).answer, { question: p.question }, 'answer')), settings.frames);
    const [g] = await vlm.generate([{ prompt, features: await features.of(p.video.path, settings.frames) }], { maxNewTokens: settings.evaluation.maxNewTokens });
    saveEvaluation(env.db, round.id, {
      promptId: p.id, answer: g.text, tokenCount: g.tokenIds.length, wordCount: g.text.split(/\s+/).filter(Boolean).length,
      score: await scorer.score({ question: p.question, reference: p.answer, answer: g.text }),
    });
  }
}

const scorerOf = (s: RunSettings): AnswerScorer => (s.evaluation.scorer.kind === 'openai' ? openAiScorer(s.evaluation.scorer) : exactMatchScorer);

/** A round's figures as reports and the History screen show them. */
export function summarise(db: Db, round: RoundRecord, settings: RunSettings): RoundSummary {
  const pairs = pairsOf(db, round.id);
  const evals = evaluationsOf(db, round.id);
  const overridden = pairs.filter((p) => p.override !== null);
  const steps = db.prepare('SELECT COUNT(*) FROM train_steps WHERE round_id = ?').pluck().get(round.id) as number;
  return {
    round: round.round,
    pairs: pairs.filter((p) => effectiveChoice(p) !== 'tie').length,
    ties: pairs.filter((p) => effectiveChoice(p) === 'tie').length,
    steps,
    accuracy: accuracy(scorerOf(settings).scale, evals.map((e) => e.score)),
    meanTokens: evals.length === 0 ? null : evals.reduce((s, e) => s + e.tokenCount, 0) / evals.length,
    meanWords: evals.length === 0 ? null : evals.reduce((s, e) => s + e.wordCount, 0) / evals.length,
    judgeAgreement: overridden.length === 0 ? null : overridden.filter((p) => p.override === p.judgeChoice).length / overridden.length,
    visualShare: db.prepare('SELECT AVG(visual_share) FROM judgments WHERE round_id = ? AND visual_share IS NOT NULL').pluck().get(round.id) as number | null,
  };
}

