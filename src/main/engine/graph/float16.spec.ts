import { describe, expect, it } from 'vitest';
import { createOrtSession, runOrt } from '../testing/ort-check';
import { GraphBuilder } from './builder';
import { narrowSaturating, toFloat16 } from './float16';
import { f16BitsToFloat32 } from './half-float';
import type { Graph, Node } from './ir';
import { causalMask, rmsNorm } from './nn';
import { serialize } from './onnx';
import { runReference, tensor64, type Feeds } from './reference';

/**
 * One pre-norm attention block at float16's edges: inputs of a few hundred (their squares pass
 * float16's 65504), a projection, masked softmax over keys (the first query row sees no key), and
 * a weighted sum.
 */
function block(): { graph: Graph; feeds: Feeds } {
  const [seq, hidden] = [4, 8];
  const b = new GraphBuilder('block');
  const x = b.input('x', 'float32', [1, seq, hidden]);
  const keyMask = b.input('key_mask', 'int64', [1, seq]);
  const positions = b.input('positions', 'int64', [1, seq]);
  const normed = b.scope('norm', () => rmsNorm(b, x, b.constant('float32', [hidden], Array.from({ length: hidden }, (_, i) => 1 + i / 8)), 1e-6));
  const w = b.initializer('proj.weight', 'float32', [hidden, hidden], Array.from({ length: hidden * hidden }, (_, i) => Math.sin(i) / 3));
  const h = b.matmul(normed, w);
  const mask = b.scope('mask', () => causalMask(b, positions, positions, keyMask));
  const probs = b.scope('sdpa', () => b.softmax(b.add(b.div(b.matmul(h, b.transpose(h, [0, 2, 1])), Math.sqrt(hidden)), b.squeeze(mask, [1])), -1));
  b.output(b.add(b.matmul(probs, h), x), 'y');
  b.output(normed, 'normed');
  const feeds: Feeds = {
    x: tensor64('float32', [1, seq, hidden], Array.from({ length: seq * hidden }, (_, i) => 300 * Math.cos(i * 0.7))),
    key_mask: tensor64('int64', [1, seq], [0, 1, 1, 1]),
    positions: tensor64('int64', [1, seq], [0, 1, 2, 3]),
  };
  return { graph: b.build(), feeds };
}

const inScopes = (...scopes: string[]) => (node: Node) => node.name.split('/').some((s) => scopes.includes(s));

async function run(graph: Graph, feeds: Feeds): Promise<Record<string, Float64Array>> {
  const out = await runOrt(await createOrtSession(serialize(graph)), graph, feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data]));
}

describe('toFloat16', () => {
  it('narrows with saturation: out-of-range finite values become ±65504, infinities and NaN stay', () => {
    const got = Array.from(f16BitsToFloat32(narrowSaturating(Float32Array.from([1, -1e9, 7e4, 65504, 0.1, Infinity, -Infinity, NaN]))));
    expect(got.slice(0, 4)).toEqual([1, -65504, 65504, 65504]);
    expect(got[4]).toBeCloseTo(0.1, 4);
    expect(got.slice(5, 7)).toEqual([Infinity, -Infinity]);
    expect(got[7]).toBeNaN();
  });

  it('keeps the graph\'s inputs and outputs float32 and narrows the weights float16 nodes read', () => {
    const { graph } = block();
    const half = toFloat16(graph, inScopes('norm', 'mask', 'sdpa'));
    expect(half.inputs).toEqual(graph.inputs);
    expect(half.outputs).toEqual(graph.outputs);
    expect(half.outputs.map((o) => half.values.get(o.name)?.dtype)).toEqual(['float32', 'float32']);
    expect(half.initializers.has('proj.weight')).toBe(false);
    expect(half.initializers.get('proj.weight/fp16')?.dtype).toBe('float16');
    // Kept nodes compute in float32, the rest in float16.
    const dtypeOf = (name: string) => half.values.get(name)?.dtype;
    for (const node of half.nodes.filter((n) => n.opType === 'Softmax' || n.opType === 'ReduceMean')) expect(dtypeOf(node.outputs[0]), node.name).toBe('float32');
    for (const node of half.nodes.filter((n) => n.opType === 'MatMul' && !n.name.includes('/sdpa/'))) expect(dtypeOf(node.outputs[0]), node.name).toBe('float16');
  });

  it('runs in ONNX Runtime to float16\'s precision of the float32 graph, a row with every key masked uniform and finite', async () => {
    const { graph, feeds } = block();
    const want = await run(graph, feeds);
    const mixed = await run(toFloat16(graph, inScopes('norm', 'mask', 'sdpa')), feeds);
    // float16 keeps 11 significant bits (a relative step of 2^-11, about 5e-4) through a few roundings.
    for (const name of ['y', 'normed']) {
      const scale = Math.max(...want[name].map(Math.abs));
      want[name].forEach((v, i) => expect(Math.abs(mixed[name][i] - v), `${name}[${i}]`).toBeLessThan(2e-3 * scale));
    }
    // The query row that sees no key: a uniform row in float32, as with every key masked.
    expect(mixed.y.every(Number.isFinite)).toBe(true);
  });

  it('keeps the norm in range where every node in float16 would overflow (the reference interpreter rounding each float16 output)', () => {
    const { graph, feeds } = block();
    const want = runReference(graph, feeds);
    const mixed = runReference(toFloat16(graph, inScopes('norm', 'mask', 'sdpa')), feeds);
    for (const name of ['y', 'normed']) {
      const scale = Math.max(...want[name].data.map(Math.abs));
      want[name].data.forEach((v, i) => expect(Math.abs(mixed[name].data[i] - v), `${name}[${i}]`).toBeLessThan(2e-3 * scale));
    }
    // All in float16: squares of 300 pass 65504, so the norm divides by infinity and gives zeros.
    const allHalf = runReference(toFloat16(graph, () => false), feeds);
    expect(Math.max(...want.normed.data.map((v, i) => Math.abs(allHalf.normed.data[i] - v)))).toBeGreaterThan(0.5);
  });
});
