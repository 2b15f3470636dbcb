// The reference interpreter's kernels against ONNX Runtime on the ops the gradient checks do not
// exercise in float (comparisons, logic, integer shapes, padding, ranges, float16 weights), plus
// exact hand-computed cases.
import { describe, expect, it } from 'vitest';
import { createOrtSession, runOrt } from '../testing/ort-check';
import { GraphBuilder } from './builder';
import { serialize } from './onnx';
import { runReference, tensor64 } from './reference';
import { float32ToF16Bits } from './half-float';

describe('reference interpreter', () => {
  it('agrees with ONNX Runtime on logic, integer and layout ops', async () => {
    const b = new GraphBuilder('misc');
    const x = b.input('x', 'float32', [2, 3, 4]);
    const n = b.input('n', 'int64', []);
    const ids = b.input('ids', 'int64', [2]);
    const mask = b.input('mask', 'bool', [3, 1]);
    const outs = {
      range: b.range(b.scalar(1, 'int64'), n, b.scalar(2, 'int64')),
      logic: b.cast(b.and(b.or(b.less(x, 0), mask), b.not(b.greater(x, 1))), 'float32'),
      equal: b.cast(b.equal(b.cast(x, 'int64'), b.scalar(0, 'int64')), 'int32'),
      shape: b.shape(x, 1),
      size: b.size(x),
      zeros: b.constantOfShape(b.shape(x, 0, 2), 2.5),
      pad: b.pad(x, [0, 1, 0, 1, 0, 2]),
      flat: b.flatten(x, 2),
      gather1: b.gather(x, ids, 1),
      reversed: b.slice(x, [-1], [-100], [2], [-2]),
      split: b.split(x, 2, 2)[1],
      max: b.reduceMax(x, [0, 2], true),
      expand: b.expand(b.reduceMean(x, [1], true), [3, 2, 1, 4]),
      onehot: b.oneHot(ids, 4, 'float32', -1, 3),
      // Rows summed where indices send them (a Gather's gradient), and along the last axis replaced.
      scatterAdd: b.scatterElements(x, b.constant('int64', [2, 1, 4], [2, 0, 2, 1, 0, 0, 2, 2]), b.slice(x, [0, 0, 0], [2, 1, 4]), 1, 'add'),
      scatter: b.scatterElements(x, b.constant('int64', [1, 3, 1], [3, 0, 1]), b.slice(x, [1, 0, 0], [2, 3, 1]), 2),
      where: b.where(mask, b.reshape(x, [2, 3, 4]), 0),
      gemm: b.gemm(b.reshape(x, [6, 4]), b.reshape(x, [6, 4]), b.scalar(1), { transB: true, alpha: 0.5 }),
    };
    for (const [name, v] of Object.entries(outs)) b.output(v, name);
    const g = b.build();
    const feeds = {
      x: tensor64('float32', [2, 3, 4], Array.from({ length: 24 }, (_, i) => Math.round(10 * Math.sin(i)) / 5)),
      n: tensor64('int64', [], [8]),
      ids: tensor64('int64', [2], [2, -1]),
      mask: tensor64('bool', [3, 1], [1, 0, 1]),
    };
    const want = runReference(g, feeds);
    const got = await runOrt(await createOrtSession(serialize(g)), g, feeds);
    for (const o of g.outputs) {
      expect(got[o.name].dims, o.name).toEqual(want[o.name].dims);
      got[o.name].data.forEach((v, i) => expect(v, `${o.name}[${i}]`).toBeCloseTo(want[o.name].data[i], 5));
    }
    expect(Array.from(want.range.data)).toEqual([1, 3, 5, 7]);
    expect(Array.from(want.shape.data)).toEqual([3, 4]);
    expect(Array.from(want.onehot.data)).toEqual([-1, -1, 3, -1, -1, -1, -1, 3]);
    // x[i, 0, k] goes to row idx[i, 0, k] of x[i]: batch 0's row 2 gets its columns 0 and 2, row 0 column 1, row 1 column 3.
    const xs = feeds.x.data;
    const at = (i: number, j: number, k: number) => xs[(i * 3 + j) * 4 + k];
    const added = Float64Array.from(xs);
    [[2, 0, 2, 1], [0, 0, 2, 2]].forEach((rows, i) => rows.forEach((j, k) => { added[(i * 3 + j) * 4 + k] += at(i, 0, k); }));
    expect(Array.from(want.scatterAdd.data)).toEqual(Array.from(added));
    // Batch 0's rows 0, 1, 2 take x[1, j, 0] at columns 3, 0, 1.
    const replaced = Float64Array.from(xs);
    [3, 0, 1].forEach((k, j) => { replaced[(0 * 3 + j) * 4 + k] = at(1, j, 0); });
    expect(Array.from(want.scatter.data)).toEqual(Array.from(replaced));
  });

  it('widens float16 weights and matches ONNX Runtime', async () => {
    const b = new GraphBuilder('half');
    const values = Float32Array.from([0.1, -2.5, 65504, 1e-7]);
    const w = b.initializer('w', 'float16', [4], float32ToF16Bits(values));
    b.output(b.cast(w, 'float32'), 'y');
    const g = b.build();
    const want = runReference(g, {}).y.data;
    expect(want[1]).toBe(-2.5);
    expect(want[2]).toBe(65504);
    expect(Math.abs(want[0] - 0.1)).toBeLessThan(1e-4);
    const got = await runOrt(await createOrtSession(serialize(g)), g, {});
    expect(Array.from(got.y.data)).toEqual(Array.from(want));
  });

  it('names the node and the input in run errors', () => {
    const b = new GraphBuilder('bad');
    const x = b.input('x', 'float32', ['n']);
    b.output(b.scope('layer', () => b.reshape(x, [3])), 'y');
    expect(() => runReference(b.build(), {})).toThrow(/graph 'bad': no feed for input 'x'/);
    expect(() => runReference(b.build(), { x: tensor64('float32', [4], [1, 2, 3, 4]) })).toThrow(/node \/layer\/Reshape \(Reshape\): cannot reshape \[4\] to \[3\]/);
    expect(() => runReference(b.build(), { x: tensor64('float32', [2, 2], [1, 2, 3, 4]) })).toThrow(/input 'x' expects \[n\], got \[2,2\]/);
  });
});
