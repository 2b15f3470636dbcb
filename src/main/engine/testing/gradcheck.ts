// Numerical gradient checking (in the manner of jax.test_util.check_grads and
// torch.autograd.gradcheck): the gradient graph evaluated by the float64 reference interpreter
// against central finite differences of the forward graph, and helpers to run the same graph in
// ONNX Runtime float32 for comparison. Used by the specs; no ONNX Runtime import here, so engine code
// may use it too.
import { mulberry32 } from '../../../shared/prng';
import type { ElementType } from '../graph/element-type';
import type { Graph } from '../graph/ir';
import { runReference, tensor64, type Feeds, type Tensor64 } from '../graph/reference';
import { differentiate, GRAD_PREFIX } from '../autodiff/differentiate';

/** Seeded test data: the same tensors on every machine, so failures reproduce. */
export const rng = mulberry32;

export type Fill = 'normal' | 'positive' | 'bool' | { int: [number, number] };

export function randomTensor(rand: () => number, dtype: ElementType, dims: readonly number[], fill: Fill = 'normal'): Tensor64 {
  const n = dims.reduce((a, b) => a * b, 1);
  const gen = (): number => {
    if (fill === 'bool') return rand() < 0.5 ? 1 : 0;
    if (fill === 'positive') return 0.5 + 1.5 * rand();
    if (typeof fill === 'object') return fill.int[0] + Math.floor(rand() * (fill.int[1] - fill.int[0] + 1));
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand()); // Box-Muller
  };
  return tensor64(dtype, dims, Array.from({ length: n }, gen));
}

export interface GradcheckResult {
  /** Largest |analytic - numeric| / (atol + rtol * |numeric|); passes when <= 1. */
  worst: number;
  where: string;
  analytic: Record<string, Tensor64>;
  numeric: Record<string, Float64Array>;
}

/** Compares the autodiff gradient of scalar `loss` w.r.t. `wrt` with central differences, all in float64. */
export function gradcheck(graph: Graph, loss: string, wrt: readonly string[], feeds: Feeds, opts: { eps?: number; rtol?: number; atol?: number } = {}): GradcheckResult {
  const { eps = 1e-6, rtol = 1e-6, atol = 1e-7 } = opts;
  const gradGraph = differentiate(graph, { loss, wrt });
  const out = runReference(gradGraph, feeds, wrt.map((w) => GRAD_PREFIX + w));
  const analytic = Object.fromEntries(wrt.map((w) => [w, out[GRAD_PREFIX + w]]));
  const numeric: Record<string, Float64Array> = {};
  let worst = 0;
  let where = '';
  for (const w of wrt) {
    const base = feeds[w] ?? (() => { throw new Error(`gradcheck: feed '${w}' to perturb it`); })();
    const num = new Float64Array(base.data.length);
    for (let i = 0; i < num.length; i++) {
      const at = (delta: number) => {
        const data = Float64Array.from(base.data);
        data[i] += delta;
        return runReference(graph, { ...feeds, [w]: { ...base, data } }, [loss])[loss].data[0];
      };
      num[i] = (at(eps) - at(-eps)) / (2 * eps);
      const err = Math.abs(analytic[w].data[i] - num[i]) / (atol + rtol * Math.abs(num[i]));
      if (!(err <= worst)) { worst = Number.isNaN(err) ? Infinity : err; where = `${w}[${i}]: analytic ${analytic[w].data[i]}, numeric ${num[i]}`; }
    }
    numeric[w] = num;
  }
  return { worst, where, analytic, numeric };
}

/** Largest |a - b| / (atol + rtol * |b|) over two tensors of equal size. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, atol: number): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (!(e <= worst)) worst = Number.isNaN(e) ? Infinity : e;
  }
  return worst;
}
