// The DPO family against TRL's definitions written out in float64 here, and its gradient w.r.t.
// LoRA factors through a tiny decoder: central differences in float64, then ONNX Runtime float32.
import { describe, expect, it } from 'vitest';
import { differentiate } from '../autodiff/differentiate';
import { gradcheck, randomTensor, relativeError, rng } from '../testing/gradcheck';
import { GraphBuilder } from '../graph/builder';
import { runReference, tensor64, type Tensor64 } from '../graph/reference';
import { batchInputs, dpoForward, preferenceBatch, runInSession, tinyDecoder, tinyDims } from '../testing/tiny-decoder';
import { defaultLoraConfig } from './lora';
import { dpoLoss, sftLoss, trlMetrics, type DpoConfig } from './losses';
import { buildLossGraph, LOSS } from './train-step';

const logSigmoid = (x: number) => -Math.log1p(Math.exp(-x));

/** TRL's dpo_loss and get_batch_metrics (trl/trainer/dpo_trainer.py), plus R-DPO and the SFT term. */
function trlReference(cfg: DpoConfig, pc: number[], pr: number[], rc: number[], rr: number[], lc: number[], lr: number[], nll: number) {
  const { beta } = cfg;
  const eps = cfg.labelSmoothing ?? 0;
  const avg = (x: number[], len: number[]) => (cfg.loss === 'ipo' ? x.map((v, i) => v / len[i]) : x);
  const [pcs, prs, rcs, rrs] = [avg(pc, lc), avg(pr, lr), avg(rc, lc), avg(rr, lr)];
  const logits = pcs.map((_, i) => pcs[i] - prs[i] - (rcs[i] - rrs[i]) - ((cfg.lengthPenalty ?? 0) / beta) * (lc[i] - lr[i]));
  const losses = logits.map((h) => {
    switch (cfg.loss) {
      case 'sigmoid': return -logSigmoid(beta * h) * (1 - eps) - logSigmoid(-beta * h) * eps;
      case 'robust': return (-logSigmoid(beta * h) * (1 - eps) + logSigmoid(-beta * h) * eps) / (1 - 2 * eps);
      case 'hinge': return Math.max(0, 1 - beta * h);
      case 'ipo': return (h - 1 / (2 * beta)) ** 2;
    }
  });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const chosen = pcs.map((v, i) => beta * (v - rcs[i]));
  const rejected = prs.map((v, i) => beta * (v - rrs[i]));
  return {
    loss: mean(losses) + (cfg.sftWeight ?? 0) * nll,
    'rewards/chosen': mean(chosen),
    'rewards/rejected': mean(rejected),
    'rewards/accuracies': mean(chosen.map((c, i) => (c > rejected[i] ? 1 : 0))),
    'rewards/margins': mean(chosen.map((c, i) => c - rejected[i])),
    'logps/chosen': mean(pcs),
    'logps/rejected': mean(prs),
  };
}

const variants: [string, DpoConfig][] = [
  ['sigmoid', { loss: 'sigmoid', beta: 0.1 }],
  ['sigmoid, label smoothing (cDPO)', { loss: 'sigmoid', beta: 0.3, labelSmoothing: 0.1 }],
  ['robust', { loss: 'robust', beta: 0.3, labelSmoothing: 0.2 }],
  ['hinge', { loss: 'hinge', beta: 0.5 }],
  ['ipo', { loss: 'ipo', beta: 0.4 }],
  ['sigmoid + SFT term + R-DPO length penalty', { loss: 'sigmoid', beta: 0.2, sftWeight: 0.7, lengthPenalty: 0.05 }],
];

describe('dpoLoss values and metrics', () => {
  // Four pairs: one the policy gets wrong and, for hinge, one past the margin (loss 0).
  const pc = [-12.5, -20.25, -7.0, -30.0];
  const pr = [-15.0, -18.0, -25.0, -31.5];
  const rc = [-13.0, -19.0, -9.5, -30.5];
  const rr = [-14.0, -18.5, -12.0, -31.0];
  const lc = [5, 9, 3, 12];
  const lr = [7, 8, 11, 12];
  const sum = [-40.0];
  const count = [29];

  it.each(variants)('%s equals TRL\'s formula in float64', (_name, cfg) => {
    const b = new GraphBuilder('dpo');
    const v = (name: string) => b.input(name, 'float64', ['pairs']);
    const chosenSum = b.input('chosen_sum', 'float64', [1]);
    const chosenCount = b.input('chosen_count', 'float64', [1]);
    const { loss, metrics } = dpoLoss(b, {
      policyChosen: v('pc'), policyRejected: v('pr'), refChosen: v('rc'), refRejected: v('rr'), chosenLength: v('lc'), rejectedLength: v('lr'),
      chosenNll: sftLoss(b, { sum: chosenSum, count: chosenCount }),
    }, cfg);
    b.output(loss, 'loss');
    for (const m of trlMetrics) b.output(metrics[m], m);
    const t = (xs: number[]) => tensor64('float64', [xs.length], xs);
    const out = runReference(b.build(), {
      pc: t(pc), pr: t(pr), rc: t(rc), rr: t(rr), lc: t(lc), lr: t(lr), chosen_sum: t(sum), chosen_count: t(count),
    });
    const expected = trlReference(cfg, pc, pr, rc, rr, lc, lr, -sum[0] / count[0]);
    for (const [k, want] of Object.entries(expected)) expect(out[k].data[0], k).toBeCloseTo(want, 12);
    if (cfg.loss === 'sigmoid' && cfg.labelSmoothing === undefined && cfg.lengthPenalty === undefined) {
      expect(out['rewards/accuracies'].data[0]).toBe(0.75);
    }
  });

  it('refuses settings TRL would not combine', () => {
    const b = new GraphBuilder('bad');
    const x = b.input('x', 'float32', ['pairs']);
    const p = { policyChosen: x, policyRejected: x, refChosen: x, refRejected: x };
    expect(() => dpoLoss(b, p, { loss: 'ipo', beta: 0.1 })).toThrow(/chosenLength/);
    expect(() => dpoLoss(b, p, { loss: 'hinge', beta: 0.1, labelSmoothing: 0.1 })).toThrow(/labelSmoothing/);
    expect(() => dpoLoss(b, p, { loss: 'robust', beta: 0.1, labelSmoothing: 0.5 })).toThrow(/labelSmoothing/);
    expect(() => dpoLoss(b, p, { loss: 'sigmoid', beta: 0.1, sftWeight: 1 })).toThrow(/chosenNll/);
  });
});

describe('dpoLoss gradient through a tiny decoder', () => {
  // One layer, LoRA (r 2) on all seven projections, two pairs of unequal lengths.
  const decoder = tinyDecoder(3, { ...tinyDims, layers: 1 });
  const lora = { ...defaultLoraConfig, r: 2, alpha: 4 };
  const batch = preferenceBatch([{ prompt: [1, 2], chosen: [3, 4, 5], rejected: [6, 7] }, { prompt: [2], chosen: [8, 9], rejected: [10, 3, 1] }]);

  function setup(cfg: DpoConfig, seed: number) {
    const lg = buildLossGraph(dpoForward(decoder, cfg), lora);
    const rand = rng(seed);
    // Random A and B (B is 0 at init, which would leave A without a gradient).
    const feeds: Record<string, Tensor64> = {
      ...batch, [batchInputs.refChosen]: tensor64('float32', [2], [-9, -6]), [batchInputs.refRejected]: tensor64('float32', [2], [-6.5, -9]),
    };
    for (const p of lg.params) feeds[p] = randomTensor(rand, 'float32', lg.graph.values.get(p)!.shape as number[]);
    return { lg, feeds };
  }

  it.each(variants.slice(1))('%s: LoRA gradients match central differences in float64', (_name, cfg) => {
    const { lg, feeds } = setup(cfg, 7);
    expect(lg.params).toHaveLength(14);
    const r = gradcheck(lg.graph, LOSS, lg.params, feeds, { rtol: 1e-5, atol: 1e-8 });
    expect(r.worst, r.where).toBeLessThanOrEqual(1);
    expect(Object.values(r.analytic).every((t) => t.data.some((v) => Math.abs(v) > 1e-5))).toBe(true);
  });

  it.each(variants.slice(1))('%s: ONNX Runtime float32 matches the reference, loss, metrics and gradients', async (_name, cfg) => {
    const { lg, feeds } = setup(cfg, 11);
    const g = differentiate(lg.graph, { loss: LOSS, wrt: lg.params });
    const expected = runReference(g, feeds);
    const got = await runInSession(g, feeds);
    for (const o of g.outputs) expect(relativeError(got[o.name], expected[o.name].data, 1e-3, 1e-5), o.name).toBeLessThanOrEqual(1);
  });
});
