// An ISR-DPO run (METHOD.md): round after round, the policy samples responses, writes (and in mode
// isr, refines) a visual context per video, judges its own response pairs in both orders, and is
// trained with DPO on the resulting preferences; then the new policy is evaluated on held-out
// prompts. Each phase is a function of its own (phases/); every item is committed as it is produced
// and every phase asks the store what is already there, so a run killed at any moment resumes
// without redoing or losing stored work.
import { ApiError } from '../../shared/errors';
import type { OutsideStep, RoundSummary, RunMode } from '../../shared/types';
import { modelFingerprint } from '../engine/model/model-fingerprint';
import type { ModelConfig } from '../engine/model/config';
import { visualTokenCount } from '../engine/model/prompt';
import { VideoLanguageModel } from '../engine/model/vlm';
import { checkLoraTargets, decoderLinearModules } from '../engine/train/lora';
import type { Db } from '../store/db';
import { doneOutside } from '../store/outside-work';
import { countPrompts } from '../store/prompts';
import { setRoundReview } from '../store/review';
import { createRun, ensureRound, getRun, modelPath, registerModel, responsesOf, roundsOf, setRoundPhase, setRunStatus, type RoundRecord, type RunRecord } from '../store/rounds';
import { writeContexts } from './phases/contexts';
import { evaluateRound } from './phases/evaluation';
import { judgeSamples } from './phases/judging';
import { decidePairs } from './phases/pairs';
import { sampleResponses } from './phases/responses';
import { allPrompts, roundScope, type RunEnvironment } from './phases/round-scope';
import { fixTrainingPairs, trainRound } from './phases/training';
import { summarise } from './round-summary';
import { parseRunSettings, type RunSettings } from './settings';
import { loadTemplates } from './templates';
import { VideoFeatures } from './video-features';

/** Registers the run (settings validated first, so nothing is stored for a bad one) and returns its id. */
export async function createRunRecord(db: Db, o: { model: string; mode: RunMode; datasetId: number; evalDatasetId: number | null; rounds: number; settings: unknown }): Promise<number> {
  const settings = parseRunSettings(o.settings);
  if (countPrompts(db, o.datasetId) === 0) throw new ApiError('invalid_argument', `dataset ${o.datasetId} has no prompts to train on`);
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new ApiError('invalid_argument', `rounds must be a whole number >= 1, got ${o.rounds}`);
  // Every file of the folder is checked before the run is stored; no session is needed for that.
  const config = VideoLanguageModel.check(o.model);
  // A round reaches training after hours of sampling and judging: what would stop it there is checked now.
  checkLoraTargets(settings.train.loraTargets, decoderLinearModules(config), `run settings train.loraTargets for ${o.model}`);
  checkSequenceRoom(settings, config, o.model);
  const modelId = registerModel(db, { path: o.model, family: config.arch, fingerprint: await modelFingerprint(o.model) });
  return createRun(db, { mode: o.mode, datasetId: o.datasetId, evalDatasetId: o.evalDatasetId, startModelId: modelId, roundsPlanned: o.rounds, settings });
}

/** The video's tokens and the longest response must fit max_length and the model's positions, or
 *  every round would fail at training (text tokens come on top: this is the floor). */
function checkSequenceRoom(settings: RunSettings, config: ModelConfig, model: string): void {
  const video = visualTokenCount(config, settings.frames);
  const response = settings.maxNewTokens;
  const [limit, name] = settings.train.maxLength < config.text.maxPositionEmbeddings
    ? [settings.train.maxLength, `train.maxLength ${settings.train.maxLength}`]
    : [config.text.maxPositionEmbeddings, `${model}'s max_position_embeddings ${config.text.maxPositionEmbeddings}`];
  if (video + response > limit) {
    throw new ApiError('invalid_argument', `run settings: ${settings.frames} frames are ${video} visual tokens, which with responses of up to ${response} tokens is over ${name}: show fewer frames${limit === settings.train.maxLength ? ' or raise train.maxLength' : ''}`);
  }
}

/** Why a round stopped before its end: people's review, or a step it hands outside the studio. */
type RoundStop = { awaiting: 'review' } | { awaiting: OutsideStep };

/** Runs (or resumes) run `runId` to its last round, or until a round stops for people's review
 *  (`awaitingReview`: its number; the run is then 'stopped', and resuming it trains that round) or
 *  for a step done outside the studio (`awaitingOutside`, run settings `outside`: resuming goes on
 *  once that step's result was imported, and stops there again until it is). */
export async function runRounds(runId: number, env: RunEnvironment): Promise<{ rounds: RoundSummary[]; awaitingReview: number | null; awaitingOutside: { round: number; step: OutsideStep } | null }> {
  const run = getRun(env.db, runId);
  if (!run) throw new ApiError('not_found', `no run ${runId}`);
  const settings = parseRunSettings(run.settings, `run ${runId} settings`);
  const templates = loadTemplates();
  setRunStatus(env.db, runId, 'running');
  const summaries: RoundSummary[] = [];
  try {
    let policy = run.startModelId;
    if (run.evalDatasetId !== null) {
      // Round 0: the starting policy, evaluated only (every chart's baseline).
      const baseline = ensureRound(env.db, runId, 0, policy, templates);
      if (baseline.phase !== 'done') await withModel(modelPath(env.db, policy), (vlm) => evaluateRound(roundScope(env, run, settings, baseline), vlm));
      setRoundPhase(env.db, baseline.id, 'done');
    }
    for (let t = 1; t <= run.roundsPlanned; t++) {
      const round = ensureRound(env.db, runId, t, policy, templates);
      const stop = round.phase === 'done' ? 'done' : await runRound(env, run, settings, round);
      if (stop !== 'done') {
        setRunStatus(env.db, runId, 'stopped');
        return stop.awaiting === 'review'
          ? { rounds: summaries, awaitingReview: t, awaitingOutside: null }
          : { rounds: summaries, awaitingReview: null, awaitingOutside: { round: t, step: stop.awaiting } };
      }
      const finished = roundsOf(env.db, runId).find((r) => r.round === t)!;
      summaries.push(summarise(env.db, finished, settings));
      env.onRoundDone?.(summaries.at(-1)!);
      policy = finished.outputModelId ?? policy;
    }
    setRunStatus(env.db, runId, 'done');
    return { rounds: summaries, awaitingReview: null, awaitingOutside: null };
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

/**
 * The six phases of a round, in order; each skips what the store already holds. With review
 * before training, a round whose pairs are made stops there, awaiting people (rounds.review);
 * resuming the run releases it (the API's resumeRun) and it trains on their verdicts. A step the
 * run hands outside the studio (settings.outside) stops the round before it until its result was
 * imported (isr/outside/): the responses before anything runs, the training once the pairs it
 * trains on are final (recorded in trained_pairs, as training in the studio records them).
 */
async function runRound(env: RunEnvironment, run: RunRecord, settings: RunSettings, round: RoundRecord): Promise<'done' | RoundStop> {
  const scope = roundScope(env, run, settings, round);
  const prompts = allPrompts(env.db, run.datasetId);
  if (settings.outside.responses && !doneOutside(env.db, round.id, 'responses') && responsesOf(env.db, round.id).length < prompts.length * settings.samples) {
    setRoundPhase(env.db, round.id, 'responses');
    return { awaiting: 'responses' };
  }
  const policyPath = modelPath(env.db, round.policyModelId);
  const reviewFirst = settings.review === 'before-training' && round.review !== 'released';
  const stopped = await withModel(policyPath, async (vlm): Promise<RoundStop | null> => {
    const s = { ...scope, prompts, vlm, features: new VideoFeatures(vlm, env.ffmpeg, env.cacheDir), policyPath };
    if (!(reviewFirst && round.phase === 'training')) {
      await s.features.prepare(prompts.map((p) => p.video.path), settings.frames, (i, total) => scope.step('vision features', i, total));
      await sampleResponses(s);
      const contexts = await writeContexts(s);
      await judgeSamples(s, contexts);
      decidePairs(s, prompts);
    }
    if (reviewFirst) {
      setRoundPhase(env.db, round.id, 'training');
      setRoundReview(env.db, round.id, 'awaiting');
      return { awaiting: 'review' };
    }
    if (settings.outside.training && round.outputModelId === null) {
      setRoundPhase(env.db, round.id, 'training');
      fixTrainingPairs(env.db, round.id);
      return { awaiting: 'training' };
    }
    await trainRound(s);
    return null;
  });
  if (stopped !== null) return stopped;
  setRoundPhase(env.db, round.id, 'evaluation');
  if (run.evalDatasetId !== null) await withModel(modelPath(env.db, round.outputModelId!), (vlm) => evaluateRound(scope, vlm));
  setRoundPhase(env.db, round.id, 'done');
  return 'done';
}

/** Lets a round that stopped for review train on people's verdicts when its run resumes. */
export function releaseReview(db: Db, runId: number): number | null {
  const awaiting = roundsOf(db, runId).find((r) => r.review === 'awaiting');
  if (awaiting === undefined) return null;
  setRoundReview(db, awaiting.id, 'released');
  return awaiting.round;
}
