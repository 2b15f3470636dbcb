import { describe, expect, it } from 'vitest';
import { gradcheck, randomTensor, relativeError, rng } from '../testing/gradcheck';
import { GraphBuilder } from '../graph/builder';
import { runReference, tensor64 } from '../graph/reference';
import { runInSession } from '../testing/tiny-decoder';
import { sequenceLogps } from './logprobs';

const [B, S, V] = [3, 5, 7];

function graph() {
  const b = new GraphBuilder('logps');
  const logits = b.input('logits', 'float32', ['batch', 'seq', V]);
  const labels = b.input('labels', 'int64', ['batch', 'seq']);
  const mask = b.input('mask', 'float32', ['batch', 'seq']);
  const out = sequenceLogps(b, logits, labels, mask);
  b.output(out.sum, 'sum');
  b.output(out.mean, 'mean');
  b.output(out.count, 'count');
  b.output(b.reduceSum(b.mul(out.sum, b.input('w', 'float32', ['batch'])), undefined, false), 'loss');
  return b.build();
}

describe('sequenceLogps', () => {
  const logits = randomTensor(rng(1), 'float32', [B, S, V]);
  // Masked-out labels hold TRL's -100 and an out-of-range id: their picks must not count.
  const labels = [2, 0, 6, 3, -100, 1, 1, 5, 4, 9, 0, 2, 2, 6, 3];
  const mask = [0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1];
  const feeds = {
    logits, labels: tensor64('int64', [B, S], labels), mask: tensor64('float32', [B, S], mask), w: tensor64('float32', [B], [0.5, -1, 2]),
  };

  it('sums log_softmax(logits)[label] over response tokens, and averages by their count', async () => {
    const expected = { sum: [0, 0, 0], count: [0, 0, 0] };
    for (let i = 0; i < B; i++) {
      for (let t = 0; t < S; t++) {
        if (mask[i * S + t] === 0) continue;
        const row = Array.from(logits.data.subarray((i * S + t) * V, (i * S + t + 1) * V));
        const lse = Math.log(row.reduce((a, x) => a + Math.exp(x), 0));
        expected.sum[i] += row[labels[i * S + t]] - lse;
        expected.count[i] += 1;
      }
    }
    const g = graph();
    const ref = runReference(g, feeds);
    expect(Array.from(ref.count.data)).toEqual(expected.count);
    ref.sum.data.forEach((v, i) => expect(v).toBeCloseTo(expected.sum[i], 12));
    ref.mean.data.forEach((v, i) => expect(v).toBeCloseTo(expected.sum[i] / expected.count[i], 12));
    const ort = await runInSession(g, feeds);
    for (const k of ['sum', 'mean', 'count']) expect(relativeError(ort[k], ref[k].data, 1e-5, 1e-5), k).toBeLessThanOrEqual(1);
  });

  it('differentiates w.r.t. the logits without scatter', () => {
    const g = graph();
    expect(g.nodes.some((n) => n.opType.startsWith('Scatter') || n.opType === 'GatherElements')).toBe(false);
    const r = gradcheck(g, 'loss', ['logits'], feeds);
    expect(r.worst, r.where).toBeLessThanOrEqual(1);
  });
});
