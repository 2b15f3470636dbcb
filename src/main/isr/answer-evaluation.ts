// The evaluator (METHOD.md, "What is measured"): the policy answers held-out questions about their
// videos with the answer template, and each answer is scored against the reference. Rounds and the
// demo's warm start measure their policies with it.
import { maxBatchRows } from '../engine/generate/generate';
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
  /** Called before each batch of questions with how many are answered; it may throw to stop (a cancelled job). */
  onProgress?: (done: number, total: number) => void;
}

/** The answers given now, in order, each with its question's index. */
export async function evaluateAnswers(
  vlm: VideoLanguageModel, features: VideoFeatures, questions: readonly HeldOutQuestion[], o: EvaluationOptions,
): Promise<(AnswerEvaluation & { index: number })[]> {
  const answered: (AnswerEvaluation & { index: number })[] = [];
  const todo = [...questions.keys()].filter((i) => !o.done?.(i));
  // Several questions answered together (as many as fit: generate's batchRowsFor); each answer is
  // scored and handed on before the next batch.
  for (let start = 0; start < todo.length; start += maxBatchRows) {
    const batch = todo.slice(start, start + maxBatchRows);
    o.onProgress?.(questions.length - todo.length + start, questions.length);
    const inputs = [];
    for (const i of batch) inputs.push(await features.input(answerTurn(o.templates, questions[i].question), questions[i].video, o.frames));
    const answers = await vlm.generate(inputs, { maxNewTokens: o.maxNewTokens });
    for (const [k, i] of batch.entries()) {
      const q = questions[i];
      const g = answers[k];
      const evaluation: AnswerEvaluation = {
        answer: g.text, tokenCount: g.tokenIds.length, wordCount: g.text.split(/\s+/).filter(Boolean).length,
        score: await o.scorer.score({ question: q.question, reference: q.reference, answer: g.text }),
      };
      o.onAnswer?.(i, evaluation);
      answered.push({ ...evaluation, index: i });
    }
  }
  return answered;
}
