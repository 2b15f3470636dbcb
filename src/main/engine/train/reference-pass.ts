// The DPO reference: every example's summed response log-probs under the frozen model (no adapter,
// the projector at its loaded weights), computed once before the first update.
import { GraphBuilder } from '../graph/builder';
import type { PreferenceCollator } from './collator';
import { addResponseLogps } from './policy-forward';
import type { TrainableModel } from './train-config';
import type { OpenSession } from './train-step';

const REFERENCE = 'logps';

/** After each batch: how far the pass is, and the batch's values (so a caller can keep them as they come). */
export type ReferenceProgress = (done: number, total: number, batch: { examples: readonly number[]; chosen: readonly number[]; rejected: readonly number[] }) => void;

/** Returns [chosen..., rejected...] for `examples` examples, taken `batchSize` pairs at a time. */
export async function referenceLogps(
  model: Pick<TrainableModel, 'config' | 'weights'>,
  collator: PreferenceCollator,
  run: { examples: number; batchSize: number; openSession: OpenSession },
  onProgress: ReferenceProgress = () => {},
): Promise<Float32Array> {
  const b = new GraphBuilder('reference_logps');
  b.output(addResponseLogps(b, model).sum, REFERENCE);
  const session = await run.openSession(b.build());
  const { examples: n, batchSize } = run;
  const out = new Float32Array(2 * n);
  try {
    for (let start = 0; start < n; start += batchSize) {
      const indices = Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
      const { feeds } = await collator.frozenRows(indices);
      const sums = (await session.run(feeds))[REFERENCE].data as Float32Array;
      const chosen = Array.from(indices, (_, k) => sums[k]);
      const rejected = Array.from(indices, (_, k) => sums[indices.length + k]);
      indices.forEach((i, k) => {
        out[i] = chosen[k];
        out[n + i] = rejected[k];
      });
      onProgress(start + indices.length, n, { examples: indices, chosen, rejected });
    }
  } finally {
    await session.release();
  }
  return out;
}
