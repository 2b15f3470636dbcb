// transformers' ACT2FN activations in float64, one line each from their definitions (activations.py),
// apart from graph/nn.ts so that they check it.
import { erf } from '../../graph/reference';

const tanhGelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

export const naiveActivations: Readonly<Record<string, (v: number) => number>> = {
  gelu: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
  gelu_new: tanhGelu,
  gelu_fast: (v) => 0.5 * v * (1 + Math.tanh(v * 0.7978845608 * (1 + 0.044715 * v * v))),
  gelu_pytorch_tanh: tanhGelu,
  quick_gelu: (v) => v / (1 + Math.exp(-1.702 * v)),
  silu: (v) => v / (1 + Math.exp(-v)),
  swish: (v) => v / (1 + Math.exp(-v)),
  relu: (v) => Math.max(0, v),
};

export function naiveActivation(name: string): (v: number) => number {
  const f = naiveActivations[name];
  if (!f) throw new Error(`naive: no float64 activation "${name}"`);
  return f;
}
