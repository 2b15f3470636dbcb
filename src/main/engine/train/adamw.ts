// AdamW with global-norm gradient clipping, appended to the training graph so one session.run does
// forward, backward and update. Numerics follow torch: clip_grad_norm_ (torch/nn/utils/clip_grad.py:
// total = L2 norm of all gradients, coef = max_norm / (total + 1e-6) clamped at 1, gradients scaled
// by it) and AdamW (torch/optim/adamw.py, the single-tensor path):
//   p <- p (1 - lr wd)
//   m <- beta1 m + (1 - beta1) g          v <- beta2 v + (1 - beta2) g^2
//   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// with t the 1-based step. lr and t are graph inputs so one graph serves every step; the betas, eps,
// weight decay and max norm are fixed for a run and baked in as constants, which lets the bias
// corrections be computed without float32 cancellation (see biasCorrection).
import type { GraphBuilder } from '../graph/builder';
import type { Value } from '../graph/ir';

export interface AdamWParam {
  /** Names the outputs `<name>.new`, `<name>.m.new`, `<name>.v.new`. */
  name: string;
  value: Value;
  grad: Value;
  /** First and second moments (torch's exp_avg, exp_avg_sq), same shape as value. */
  m: Value;
  v: Value;
}

export interface AdamWHyper {
  /** Scalar float32 graph input: this step's learning rate (from the schedule). */
  lr: Value;
  /** Scalar float32 graph input: the 1-based step t used for bias correction. */
  step: Value;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this; 0 disables clipping (as transformers' Trainer). */
  maxGradNorm: number;
}

/** torch.optim.AdamW's defaults; transformers' Trainer uses the same except weight_decay 0. */
export const adamWDefaults = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 } as const;

export const GRAD_NORM = 'grad_norm';
export const updatedName = (name: string): { value: string; m: string; v: string } => ({ value: `${name}.new`, m: `${name}.m.new`, v: `${name}.v.new` });

/**
 * 1 - beta^t. In float32, 1 - exp(t ln beta) loses most digits for beta near 1 and small t (1 -
 * 0.999 keeps ~4). With x = t ln beta: for x > -0.5, -x (1 + x/2 (1 + x/3 (1 + ... x/10))), the
 * series of 1 - e^x to within 1e-10 of it, from products and sums alone (WebGPU's tanh, which
 * -tanh(x/2) (1 + e^x) would need, is accurate to an absolute 1e-7, a 1e-5 relative error at
 * x = -0.001); beyond, 1 - e^x has no digits to lose.
 */
function biasCorrection(b: GraphBuilder, beta: number, step: Value): Value {
  const x = b.mul(step, Math.log(beta));
  let series = b.add(b.mul(x, 1 / 10), 1);
  for (let k = 9; k >= 2; k--) series = b.add(b.mul(b.mul(x, 1 / k), series), 1);
  return b.where(b.less(x, -0.5), b.sub(1, b.exp(x)), b.neg(b.mul(x, series)));
}

/** Adds clipping and the AdamW update; outputs `grad_norm` (before clipping) and the new tensors. */
export function addAdamW(b: GraphBuilder, params: readonly AdamWParam[], hp: AdamWHyper): void {
  if (params.length === 0) throw new Error('addAdamW: no parameters to update');
  b.scope('adamw', () => {
    const squares = params.map((p) => b.reduceSum(b.mul(p.grad, p.grad), undefined, false));
    const norm = b.sqrt(squares.reduce((acc, s) => b.add(acc, s)));
    b.output(norm, GRAD_NORM);
    let clip: Value | undefined;
    if (hp.maxGradNorm > 0) {
      const coef = b.div(hp.maxGradNorm, b.add(norm, 1e-6));
      clip = b.where(b.less(coef, 1), coef, 1);
    }
    const stepSize = b.div(hp.lr, biasCorrection(b, hp.beta1, hp.step));
    const bc2Sqrt = b.sqrt(biasCorrection(b, hp.beta2, hp.step));
    const decay = hp.weightDecay === 0 ? undefined : b.sub(1, b.mul(hp.lr, hp.weightDecay));
    for (const p of params) {
      b.scope(p.name, () => {
        const g = clip === undefined ? p.grad : b.mul(p.grad, clip);
        const m = b.add(b.mul(p.m, hp.beta1), b.mul(g, 1 - hp.beta1));
        const v = b.add(b.mul(p.v, hp.beta2), b.mul(b.mul(g, g), 1 - hp.beta2));
        const denom = b.add(b.div(b.sqrt(v), bc2Sqrt), hp.eps);
        const decayed = decay === undefined ? p.value : b.mul(p.value, decay);
        const out = updatedName(p.name);
        b.output(b.sub(decayed, b.mul(b.div(m, denom), stepSize)), out.value);
        b.output(m, out.m);
        b.output(v, out.v);
      });
    }
  });
}
