// An ISR-DPO run (METHOD.md): round after round, the policy samples responses, writes (and in mode
// isr, refines) a visual context per video, judges its own response pairs in both orders, and is
// trained with DPO on the resulting preferences; then the new policy is evaluated on held-out
// prompts. Each phase is a function of its own (phases/); every item is committed as it is produced
// and every phase asks the store what is already there, so a run killed at any moment resumes
// without redoing or losing stored work.
import { ApiError } from '../../shared/errors';
import type { RoundSummary, RunMode } from '../../shared/types';
import { modelFingerprint } from '../engine/model/model-fingerprint';
import { VideoLanguageModel } from '../engine/model/vlm';
import type { Db } from '../store/db';
import { countPrompts } from '../store/prompts';
import { setRoundReview } from '../store/review';
import { createRun, ensureRound, getRun, modelPath, registerModel, roundsOf, setRoundPhase, setRunStatus, type RoundRecord, type RunRecord } from '../store/rounds';
import { writeContexts } from './phases/contexts';
import { evaluateRound } from './phases/evaluation';
import { judgeSamples } from './phases/judging';
import { decidePairs } from './phases/pairs';
import { sampleResponses } from './phases/responses';
import { allPrompts, roundScope, type RunEnvironment } from './phases/round-scope';
import { trainRound } from './phases/training';
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
  const family = VideoLanguageModel.check(o.model).arch;
  const modelId = registerModel(db, { path: o.model, family, fingerprint: await modelFingerprint(o.model) });
  return createRun(db, { mode: o.mode, datasetId: o.datasetId, evalDatasetId: o.evalDatasetId, startModelId: modelId, roundsPlanned: o.rounds, settings });
}

/** Runs (or resumes) run `runId` to its last round, or until a round stops for people's review
 *  (`awaitingReview`: its number; the run is then 'stopped', and resuming it trains that round). */
export async function runRounds(runId: number, env: RunEnvironment): Promise<{ rounds: RoundSummary[]; awaitingReview: number | null }> {
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
      if (round.phase !== 'done' && (await runRound(env, run, settings, round)) === 'awaiting review') {
        setRunStatus(env.db, runId, 'stopped');
        return { rounds: summaries, awaitingReview: t };
      }
      const finished = roundsOf(env.db, runId).find((r) => r.round === t)!;
      summaries.push(summarise(env.db, finished, settings));
      env.onRoundDone?.(summaries.at(-1)!);
      policy = finished.outputModelId ?? policy;
    }
    setRunStatus(env.db, runId, 'done');
    return { rounds: summaries, awaitingReview: null };
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
 * resuming the run releases it (the API's resumeRun) and it trains on their verdicts.
 */
async function runRound(env: RunEnvironment, run: RunRecord, settings: RunSettings, round: RoundRecord): Promise<'done' | 'awaiting review'> {
  const scope = roundScope(env, run, settings, round);
  const prompts = allPrompts(env.db, run.datasetId);
  const policyPath = modelPath(env.db, round.policyModelId);
  const reviewFirst = settings.review === 'before-training' && round.review !== 'released';
  const stopped = await withModel(policyPath, async (vlm) => {
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
      return true;
    }
    await trainRound(s);
    return false;
  });
  if (stopped) return 'awaiting review';
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
