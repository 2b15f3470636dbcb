// Sequence lengths bounded as TRL's DPOTrainer bounds them (DPOConfig max_completion_length, then
// max_length with truncation_mode "keep_start"): each response cut to its first
// max_completion_length tokens, then prompt + response cut to max_length by dropping the response's
// end. The model's max_position_embeddings bounds max_length too. Unlike TRL, the prompt is never
// cut: it holds the video's tokens, and cutting into them would part the features from their
// places; a prompt that leaves no room for a response is refused instead (TRL would train on a
// response of no tokens).
import type { TrainExample } from './train-config';

export interface LengthLimits {
  /** TRL's max_length: prompt + response; null: only the model's max_position_embeddings. */
  maxLength: number | null;
  /** TRL's max_completion_length: each response's first tokens; null: no cut. */
  maxCompletionLength: number | null;
}

export type FittedExample = { example: TrainExample; cuts: string[] } | { refused: string };

const n = (x: number) => x.toLocaleString('en-US');

/** The example within the limits, with a sentence per response cut, or why it cannot fit. */
export function fitExample(e: TrainExample, limits: LengthLimits, maxPositions: number): FittedExample {
  const [limit, limitName] = limits.maxLength !== null && limits.maxLength < maxPositions
    ? [limits.maxLength, `max_length ${n(limits.maxLength)}`]
    : [maxPositions, `the model's max_position_embeddings ${n(maxPositions)}`];
  const room = limit - e.prompt.length;
  if (room < 1) {
    const visual = e.visual === undefined ? '' : ` (${n(e.prompt.filter((id) => id === e.visual!.tokenId).length)} of them the video's)`;
    return { refused: `the prompt is ${n(e.prompt.length)} tokens${visual}, leaving no room for a response within ${limitName}: raise max_length or show fewer frames` };
  }
  const cuts: string[] = [];
  const fit = (ids: number[], side: string): number[] => {
    let kept = ids;
    if (limits.maxCompletionLength !== null && kept.length > limits.maxCompletionLength) {
      kept = kept.slice(0, limits.maxCompletionLength);
      cuts.push(`${side} cut from ${n(ids.length)} to ${n(kept.length)} tokens (max_completion_length)`);
    }
    if (kept.length > room) {
      const before = kept.length;
      kept = kept.slice(0, room);
      cuts.push(`${side} cut from ${n(before)} to ${n(room)} tokens (${limitName}, with a prompt of ${n(e.prompt.length)})`);
    }
    return kept;
  };
  const chosen = fit(e.chosen, 'chosen');
  const rejected = e.rejected === undefined ? undefined : fit(e.rejected, 'rejected');
  return { example: { ...e, chosen, ...(rejected === undefined ? {} : { rejected }) }, cuts };
}
