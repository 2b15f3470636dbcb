// The self-judge (METHOD.md step 3): the policy sees the video (unless text-judge), the context
// (isr, no-retrospect), the question and two responses, and its verdict is read from the
// next-token probabilities of the two choice labels, not parsed from text. One call judges one order.
import type { PromptVideo } from '../engine/model/prompt';
import { userTurn, type ChatMessage } from '../engine/model/tokenizer';
import type { PromptInput, PromptPrefix, VideoLanguageModel, VisualAttention } from '../engine/model/vlm';
import { fill, type Templates } from './templates';

/** What the judge reads. */
export interface JudgeText {
  question: string;
  first: string;
  second: string;
  /** Null when the mode shows the judge no context. */
  context: string | null;
}

export interface JudgeInput extends JudgeText {
  /** Null when the mode shows the judge no video (text-judge). */
  features: Float32Array | null;
  /** The video the features are of (unused without features). */
  video: PromptVideo;
}

export interface Verdict {
  /** Probability that the response shown first is better, from the labels' next-token probabilities. */
  pFirst: number;
  attention: VisualAttention | null;
}

/** p(A is better) from the two orders: p(first) with A shown first, and p(first) with B shown first. */
export function bothOrders(pFirstAFirst: number, pFirstBFirst: number): number {
  return (pFirstAFirst + 1 - pFirstBFirst) / 2;
}

/** The judge's chat: the template's text, after the video when the judge sees one. */
export function judgeMessages(templates: Templates, input: JudgeText, withVideo: boolean): ChatMessage[] {
  const contextBlock = input.context === null ? '' : `${fill(templates.context_block, { context: input.context }, 'context_block')}\n`;
  const text = fill(templates.judge, { context_block: contextBlock, question: input.question, response_a: input.first, response_b: input.second }, 'judge');
  return userTurn(text, withVideo);
}

/** The one spelling of a verdict the studio trains (the demo's warm start): " A", the token the
 *  template's "Response A:" and "Answer with A or B." show, so prompt and target agree. */
export const judgeLabel = (label: 'A' | 'B'): string => ` ${label}`;

/** Ids a label can start the answer with: " A" as the template spells it, or "A" as a real
 *  checkpoint begins its reply at the start of a line; the read-out sums both. */
function labelIds(vlm: VideoLanguageModel, label: string): number[] {
  return [...new Set([label, ` ${label}`].map((t) => vlm.tokenizer.encode(t)[0]))];
}

/** One order of a pair: 'a' is A shown first, 'b' is B shown first. */
export type ShownFirst = 'a' | 'b';

export interface PairVerdict {
  /** p(first is better) in each order. */
  pFirst: Record<ShownFirst, number>;
  /** p(A is better), the two orders averaged. */
  pA: number;
}

/**
 * Judges the pair `input` (first = A, second = B) in both orders, A first then B first, and averages
 * them. An order in `known` (its stored p(first)) is not judged again; each order judged now is
 * handed to `onVerdict` as soon as it is known, so a caller can keep it before the next.
 */
export async function judgeBothOrders(
  vlm: VideoLanguageModel, templates: Templates, input: JudgeInput,
  o: { known?: Partial<Record<ShownFirst, number>>; onVerdict?: (shownFirst: ShownFirst, verdict: Verdict) => void } = {},
): Promise<PairVerdict> {
  const pFirst = { ...o.known };
  const orders = (['a', 'b'] as const).filter((shownFirst) => pFirst[shownFirst] === undefined);
  if (orders.length > 0) {
    const prompts = {
      a: judgePrompt(vlm, templates, input),
      b: judgePrompt(vlm, templates, { ...input, first: input.second, second: input.first }),
    };
    // The two orders' prompts are the same up to the first response (the video, the description, the
    // question: most of a prompt), so that part runs once. A resumed pair with one order left runs it
    // the same way, so its verdict is the one the uninterrupted round would have stored, to the bit.
    const prefix = await sharedPrefix(vlm, prompts.a, prompts.b);
    for (const shownFirst of orders) {
      const verdict = await verdictOn(vlm, prompts[shownFirst], prefix);
      o.onVerdict?.(shownFirst, verdict);
      pFirst[shownFirst] = verdict.pFirst;
    }
  }
  const both = pFirst as Record<ShownFirst, number>;
  return { pFirst: both, pA: bothOrders(both.a, both.b) };
}

const judgePrompt = (vlm: VideoLanguageModel, templates: Templates, input: JudgeInput): PromptInput => ({
  prompt: vlm.prompt(judgeMessages(templates, input, input.features !== null), input.features === null ? 0 : input.video),
  features: input.features,
});

/** The tokens two prompts begin with, run once; undefined when they share none. */
async function sharedPrefix(vlm: VideoLanguageModel, one: PromptInput, other: PromptInput): Promise<PromptPrefix | undefined> {
  const [a, b] = [one.prompt.inputIds, other.prompt.inputIds];
  let length = 0;
  while (length < Math.min(a.length, b.length) - 1 && a[length] === b[length]) length++;
  return length === 0 ? undefined : vlm.prefix(one, length);
}

/** The judge's verdict on one order. */
export function judge(vlm: VideoLanguageModel, templates: Templates, input: JudgeInput): Promise<Verdict> {
  return verdictOn(vlm, judgePrompt(vlm, templates, input));
}

/** The verdict read from a judge prompt; with `prefix` (sharedPrefix), only its tokens after the prefix run. */
async function verdictOn(vlm: VideoLanguageModel, promptInput: PromptInput, prefix?: PromptPrefix): Promise<Verdict> {
  const { prompt, features } = promptInput;
  // With a video, one pass gives the verdict's logits and where it looked; without, the logits alone.
  const seen = features === null ? null : await vlm.attendAndPredict(promptInput, [prompt.inputIds.length - 1], undefined, prefix);
  const last = seen?.lastLogits ?? (await vlm.lastLogits(promptInput, prefix));
  // Softmax restricted to the two labels' tokens (each label may be spelt with or without a space).
  // Shifted by the largest of the labels' logits (not the vocabulary's: a spread of 152k values overflows the stack).
  const ids = { A: labelIds(vlm, 'A'), B: labelIds(vlm, 'B') };
  const max = [...ids.A, ...ids.B].reduce((m, id) => Math.max(m, last[id]), -Infinity);
  const mass = (label: 'A' | 'B') => ids[label].reduce((s, id) => s + Math.exp(last[id] - max), 0);
  const [a, b] = [mass('A'), mass('B')];
  return { pFirst: a / (a + b), attention: seen?.attention ?? null };
}
