// The evaluator (METHOD.md, "What is measured"): the policy answers held-out questions about their
// videos with the answer template, and each answer is scored against the reference. Rounds and the
// demo's warm start measure their policies with it.
import type { VideoLanguageModel } from '../engine/model/vlm';
import type { AnswerScorer } from './scorer';
import { answerTurn, type Templates } from './templates';
import type { VideoFeatures } from './video-features';

export interface HeldOutQuestion {
  question: string;
  /** The video's path. */
  video: string;
  /** Null when the data gives no answer (then the answer is kept, unscored). */
  reference: string | null;
}

export interface AnswerEvaluation {
  answer: string;
  tokenCount: number;
  wordCount: number;
  score: number | null;
}

export interface EvaluationOptions {
  templates: Templates;
  frames: number;
  maxNewTokens: number;
  scorer: AnswerScorer;
  /** Questions already answered (a resumed evaluation): skipped. */
  done?: (index: number) => boolean;
  /** Each answer as soon as it is scored, so a caller can keep it before the next. */
  onAnswer?: (index: number, evaluation: AnswerEvaluation) => void;
  /** Called before each question; it may throw to stop (a cancelled job). */
  onProgress?: (done: number, total: number) => void;
}

/** The answers given now, in order, each with its question's index. */
export async function evaluateAnswers(
  vlm: VideoLanguageModel, features: VideoFeatures, questions: readonly HeldOutQuestion[], o: EvaluationOptions,
): Promise<(AnswerEvaluation & { index: number })[]> {
  const answered: (AnswerEvaluation & { index: number })[] = [];
  for (const [i, q] of questions.entries()) {
    o.onProgress?.(i, questions.length);
    if (o.done?.(i)) continue;
    const prompt = vlm.prompt(answerTurn(o.templates, q.question), await features.shown(q.video, o.frames));
    const [g] = await vlm.generate([{ prompt, features: await features.of(q.video, o.frames) }], { maxNewTokens: o.maxNewTokens });
    const evaluation: AnswerEvaluation = {
      answer: g.text, tokenCount: g.tokenIds.length, wordCount: g.text.split(/\s+/).filter(Boolean).length,
      score: await o.scorer.score({ question: q.question, reference: q.reference, answer: g.text }),
    };
    o.onAnswer?.(i, evaluation);
    answered.push({ ...evaluation, index: i });
  }
  return answered;
}
