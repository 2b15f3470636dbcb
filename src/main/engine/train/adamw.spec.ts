// One AdamW step in ONNX Runtime float32 against torch's AdamW and clip_grad_norm_ written out in
// float64 (torch/optim/adamw.py single-tensor path, torch/nn/utils/clip_grad.py).
import { describe, expect, it } from 'vitest';
import { randomTensor, relativeError, rng } from '../testing/gradcheck';
import { GraphBuilder } from '../graph/builder';
import { tensor64, type Tensor64 } from '../graph/reference';
import { addAdamW, GRAD_NORM, updatedName, type AdamWHyper } from './adamw';
import { runInSession } from '../testing/tiny-decoder';

type Hyper = Omit<AdamWHyper, 'lr' | 'step'>;
const shapes: Record<string, number[]> = { 'w.lora_A': [3, 2], 'w.lora_B': [2, 4] };

function torchStep(hp: Hyper, lr: number, t: number, p: Record<string, Tensor64>, g: Record<string, Tensor64>, m: Record<string, Tensor64>, v: Record<string, Tensor64>) {
  const norm = Math.sqrt(Object.values(g).reduce((acc, x) => acc + x.data.reduce((a, y) => a + y * y, 0), 0));
  const clip = hp.maxGradNorm > 0 ? Math.min(hp.maxGradNorm / (norm + 1e-6), 1) : 1;
  const out: Record<string, number[]> = { [GRAD_NORM]: [norm] };
  for (const name of Object.keys(p)) {
    const names = updatedName(name);
    const [np, nm, nv] = [[], [], []] as number[][];
    p[name].data.forEach((x, i) => {
      const gi = g[name].data[i] * clip;
      const mi = hp.beta1 * m[name].data[i] + (1 - hp.beta1) * gi;
      const vi = hp.beta2 * v[name].data[i] + (1 - hp.beta2) * gi * gi;
      const denom = Math.sqrt(vi) / Math.sqrt(1 - hp.beta2 ** t) + hp.eps;
      np.push(x * (1 - lr * hp.weightDecay) - (lr / (1 - hp.beta1 ** t)) * (mi / denom));
      nm.push(mi);
      nv.push(vi);
    });
    Object.assign(out, { [names.value]: np, [names.m]: nm, [names.v]: nv });
  }
  return out;
}

async function ortStep(hp: Hyper, lr: number, t: number, seed: number, gradScale: number, fresh: boolean) {
  const b = new GraphBuilder('adamw');
  const rand = rng(seed);
  const feeds: Record<string, Tensor64> = { lr: tensor64('float32', [], [lr]), step: tensor64('float32', [], [t]) };
  const [p, g, m, v] = [{}, {}, {}, {}] as Record<string, Tensor64>[];
  const params = Object.entries(shapes).map(([name, dims]) => {
    const scaled = (s: number, abs = false) => tensor64('float32', dims, Array.from(randomTensor(rand, 'float32', dims).data, (x) => Math.fround(s * (abs ? Math.abs(x) : x))));
    p[name] = scaled(0.02);
    g[name] = scaled(gradScale);
    m[name] = scaled(fresh ? 0 : 0.01);
    v[name] = scaled(fresh ? 0 : 1e-4, true);
    Object.assign(feeds, { [name]: p[name], [`${name}.grad`]: g[name], [`${name}.m`]: m[name], [`${name}.v`]: v[name] });
    const input = (suffix: string) => b.input(`${name}${suffix}`, 'float32', dims);
    return { name, value: input(''), grad: input('.grad'), m: input('.m'), v: input('.v') };
  });
  addAdamW(b, params, { ...hp, lr: b.input('lr', 'float32', []), step: b.input('step', 'float32', []) });
  return { got: await runInSession(b.build(), feeds), want: torchStep(hp, lr, t, p, g, m, v) };
}

describe('AdamW with gradient clipping, in the graph', () => {
  const torchDefaults: Hyper = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1 };
  const cases: [string, Hyper, number, number, number, boolean][] = [
    ['first step, gradients clipped (norm > 1)', torchDefaults, 0.01, 1, 2, true],
    ['step 5 with moments, norm under the limit, weight decay 0.1', { ...torchDefaults, weightDecay: 0.1, maxGradNorm: 10 }, 0.02, 5, 0.3, false],
    ['clipping off, no weight decay, other betas', { beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0, maxGradNorm: 0 }, 0.005, 2, 3, false],
  ];

  it.each(cases)('%s equals torch in float64', async (_name, hp, lr, t, gradScale, fresh) => {
    const { got, want } = await ortStep(hp, lr, t, 17, gradScale, fresh);
    expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
    for (const [k, w] of Object.entries(want)) expect(relativeError(got[k], w, 2e-6, 1e-9), k).toBeLessThanOrEqual(1);
    if (hp.maxGradNorm === 1) expect(got[GRAD_NORM][0]).toBeGreaterThan(1);
  });
});
