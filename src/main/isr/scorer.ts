// How held-out answers are scored (METHOD.md, "What is measured"): normalised exact match for data
// with short answers, or the paper's 1-5 grade from an LLM behind an OpenAI-compatible endpoint
// (off by default; its key is read from an environment variable, never stored with the run).
import { ApiError } from '../../shared/errors';
import type { RunSettings } from './settings';

export interface ScoreItem {
  question: string;
  reference: string | null;
  answer: string;
}

export interface AnswerScorer {
  /** 'exact': 0 or 1; 'grade': 1 to 5, where 3 or more counts as correct. */
  scale: 'exact' | 'grade';
  /** Null when the item cannot be scored (no reference answer). */
  score(item: ScoreItem): Promise<number | null>;
}

const normalise = (s: string) => s.toLowerCase().replace(/[^a-z0-9 ]/g, ' ').replace(/\s+/g, ' ').trim();

/** The reply is the reference answer, or starts with it as its first word. */
export const exactMatch = (reply: string, reference: string): boolean => {
  const [r, a] = [normalise(reply), normalise(reference)];
  return r === a || r.split(' ')[0] === a;
};

export const exactMatchScorer: AnswerScorer = {
  scale: 'exact',
  score: async ({ reference, answer }) => (reference === null ? null : exactMatch(answer, reference) ? 1 : 0),
};

export interface OpenAiScorerOptions {
  /** Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1. */
  url: string;
  model: string;
  /** Environment variable holding the API key (empty: no Authorization header). */
  apiKeyEnv: string;
}

/** The paper's protocol: the LLM grades the answer against the reference from 1 to 5. */
export function openAiScorer(o: OpenAiScorerOptions, fetchImpl: typeof fetch = fetch): AnswerScorer {
  return {
    scale: 'grade',
    async score({ question, reference, answer }) {
      const key = process.env[o.apiKeyEnv];
      const prompt =
        'You evaluate answers to questions about a video. Compare the predicted answer with the correct answer and grade it ' +
        `from 1 (wrong) to 5 (fully correct and precise). Reply with the number only.\nQuestion: ${question}\n` +
        `Correct answer: ${reference ?? '(not given)'}\nPredicted answer: ${answer}`;
      const response = await fetchImpl(`${o.url.replace(/\/$/, '')}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ model: o.model, temperature: 0, messages: [{ role: 'user', content: prompt }] }),
      }).catch((err: unknown) => {
        throw new ApiError('bad_input', `scorer ${o.url} cannot be reached: ${(err as Error).message}`);
      });
      if (!response.ok) throw new ApiError('bad_input', `scorer ${o.url} answered ${response.status}: ${(await response.text()).slice(0, 200)}`);
      const body = (await response.json()) as { choices?: { message?: { content?: string } }[] };
      const grade = Number(/[1-5]/.exec(body.choices?.[0]?.message?.content ?? '')?.[0]);
      return Number.isInteger(grade) ? grade : null;
    },
  };
}

/** Share of scored items counted correct: exact match, or a grade of 3 or more (the paper's accuracy). */
export function accuracy(scale: AnswerScorer['scale'], scores: readonly (number | null)[]): number | null {
  const scored = scores.filter((s): s is number => s !== null);
  if (scored.length === 0) return null;
  return scored.filter((s) => (scale === 'exact' ? s === 1 : s >= 3)).length / scored.length;
}

/** The scorer a run's settings name. */
export const runScorer = (s: RunSettings): AnswerScorer => (s.evaluation.scorer.kind === 'openai' ? openAiScorer(s.evaluation.scorer) : exactMatchScorer);
