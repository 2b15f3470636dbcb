// Per-sequence log-probabilities of response tokens, as TRL's DPOTrainer computes them
// (trl/trainer/dpo_trainer.py, concatenated_forward / get_batch_logps): log_softmax over the
// vocabulary, the label's entry picked, masked to response tokens, summed per sequence. The pick is
// a product with OneHot(labels) reduced over the vocabulary, so its gradient is a plain Mul with no
// scatter (the same trick as nn.ts crossEntropy).
import type { GraphBuilder } from '../graph/builder';
import type { Value } from '../graph/ir';

export interface SequenceLogps {
  /** [batch]: sum of log p(label) over masked-in tokens (DPO's log pi(y|x)). */
  sum: Value;
  /** [batch]: sum / count, the length-averaged log-prob (IPO's). */
  mean: Value;
  /** [batch]: number of masked-in tokens, |y|. */
  count: Value;
}

/**
 * logits [batch, seq, vocab]; labels int64 [batch, seq], already shifted so labels[t] is the token
 * logits[t] predicts; mask float [batch, seq], 1 on response tokens and 0 elsewhere. A label under a
 * 0 mask may hold anything (TRL's -100 included): its pick is multiplied by 0. Every sequence needs
 * at least one response token or its mean is 0/0.
 * Memory: log_softmax and the one-hot rows are each as large as the logits.
 */
export function sequenceLogps(b: GraphBuilder, logits: Value, labels: Value, mask: Value): SequenceLogps {
  return b.scope('sequence_logps', () => {
    const vocab = logits.shape[logits.shape.length - 1];
    const oneHot = b.oneHot(labels, typeof vocab === 'number' ? vocab : b.shape(logits, -1), logits.dtype);
    const perToken = b.reduceSum(b.mul(b.logSoftmax(logits, -1), oneHot), [-1], false);
    const sum = b.reduceSum(b.mul(perToken, mask), [-1], false);
    const count = b.reduceSum(mask, [-1], false);
    return { sum, mean: b.div(sum, count), count };
  });
}
