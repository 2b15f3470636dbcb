// Phase 6 (and round 0, the starting policy): the policy answers the run's held-out prompts, each
// answer scored and stored as it is made.
import type { VideoLanguageModel } from '../../engine/model/vlm';
import { evaluationsOf, saveEvaluation } from '../../store/rounds';
import { evaluateAnswers } from '../answer-evaluation';
import { runScorer } from '../scorer';
import { VideoFeatures } from '../video-features';
import { allPrompts, type RoundScope } from './round-scope';

export async function evaluateRound(s: RoundScope, vlm: VideoLanguageModel): Promise<void> {
  const { db, round } = s;
  const prompts = allPrompts(db, s.run.evalDatasetId!);
  const done = new Set(evaluationsOf(db, round.id).map((e) => e.promptId));
  const questions = prompts.map((p) => ({ question: p.question, video: p.video.path, reference: p.answer }));
  const features = new VideoFeatures(vlm, s.env.ffmpeg, s.env.cacheDir);
  const waiting = prompts.filter((p) => !done.has(p.id));
  await features.prepare(waiting.map((p) => p.video.path), s.settings.frames, (i, total) => s.step('evaluation: vision features', i, total));
  await evaluateAnswers(vlm, features, questions, {
    templates: s.templates, frames: s.settings.frames, maxNewTokens: s.settings.evaluation.maxNewTokens, scorer: runScorer(s.settings),
    done: (i) => done.has(prompts[i].id),
    onAnswer: (i, e) => saveEvaluation(db, round.id, { promptId: prompts[i].id, ...e }),
    onProgress: (i, total) => s.step('evaluation', i, total),
  });
}
