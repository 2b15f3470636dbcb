// What every phase of a round works with: the run, its settings, the round and its prompts, and
// progress reporting that stops the round when the run is cancelled. A phase that runs the policy
// gets it loaded, with the video features it reads through.
import { ApiError } from '../../../shared/errors';
import type { JobOverall } from '../../../shared/jobs';
import { count } from '../../../shared/plural';
import type { RoundSummary } from '../../../shared/types';
import type { VideoLanguageModel } from '../../engine/model/vlm';
import type { Db } from '../../store/db';
import { countPrompts, pagePrompts, type PromptWithVideo } from '../../store/prompts';
import { responsesOf, type ResponseRecord, type RoundRecord, type RunRecord } from '../../store/rounds';
import type { RunSettings } from '../settings';
import type { Templates } from '../templates';
import type { VideoFeatures } from '../video-features';

export interface RunProgress {
  round: number;
  /** Rounds the run plans. */
  rounds: number;
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

export interface RoundScope {
  env: RunEnvironment;
  db: Db;
  run: RunRecord;
  settings: RunSettings;
  round: RoundRecord;
  templates: Templates;
  /** Reports progress without a check: inside work the run's signal already stops. */
  progress(phase: string, done: number, total: number, detail?: string): void;
  /** Stops the round (ApiError 'cancelled') when the run was cancelled, else reports progress: between items. */
  step(phase: string, done: number, total: number): void;
}

/** A phase that runs the round's policy. */
export interface PolicyScope extends RoundScope {
  prompts: PromptWithVideo[];
  vlm: VideoLanguageModel;
  features: VideoFeatures;
  policyPath: string;
}

export function roundScope(env: RunEnvironment, run: RunRecord, settings: RunSettings, round: RoundRecord): RoundScope {
  const progress = (phase: string, done: number, total: number, detail?: string) => env.onProgress?.({ round: round.round, rounds: run.roundsPlanned, phase, done, total, detail });
  return {
    env, db: env.db, run, settings, round, templates: round.templates as Templates, progress,
    step: (phase, done, total) => {
      if (env.signal?.aborted) throw new ApiError('cancelled', 'run cancelled');
      progress(phase, done, total);
    },
  };
}

/** The progress phases of a round, in the order it reports them. */
export const roundProgressPhases = ['vision features', 'responses', 'contexts', 'judging', 'reference log-probs', 'training', 'evaluation: vision features', 'evaluation'];

/**
 * The run's overall progress from a round's: each planned round an equal share, and within a
 * round each phase an equal share (phases take very different times, so the ETA this gives is
 * rough until a round has passed). Round 0 (the baseline's evaluation) counts as the start.
 */
export function runProgress(p: RunProgress): JobOverall {
  const label = p.round === 0 ? `baseline, then ${count(p.rounds, 'round')}` : `round ${p.round} of ${p.rounds}: ${p.phase}`;
  if (p.round === 0) return { label, fraction: 0 };
  const at = Math.max(0, roundProgressPhases.indexOf(p.phase));
  const within = (at + (p.total > 0 ? Math.min(1, p.done / p.total) : 0)) / roundProgressPhases.length;
  return { label, fraction: Math.min(1, (p.round - 1 + within) / p.rounds) };
}

export function allPrompts(db: Db, datasetId: number): PromptWithVideo[] {
  return pagePrompts(db, datasetId, 0, countPrompts(db, datasetId));
}

/** The policy's features of the prompt's video at the run's frame count. */
export const visual = (s: PolicyScope, p: PromptWithVideo): Promise<Float32Array> => s.features.of(p.video.path, s.settings.frames);

/** The round's stored responses by prompt, each list in sample order. */
export function responsesByPrompt(db: Db, roundId: number): Map<number, ResponseRecord[]> {
  const byPrompt = new Map<number, ResponseRecord[]>();
  for (const r of responsesOf(db, roundId)) {
    const list = byPrompt.get(r.promptId);
    if (list) list.push(r);
    else byPrompt.set(r.promptId, [r]);
  }
  return byPrompt;
}

/** Samples (0, 1), (2, 3), ... of a prompt: the pairs the judge compares. */
export function samplePairs(responses: readonly ResponseRecord[]): [ResponseRecord, ResponseRecord][] {
  const pairs: [ResponseRecord, ResponseRecord][] = [];
  for (let k = 0; k + 1 < responses.length; k += 2) pairs.push([responses[k], responses[k + 1]]);
  return pairs;
}

export const verdictKey = (a: number, b: number, shownFirst: 'a' | 'b') => `${a}:${b}:${shownFirst}`;
