import { describe, expect, it } from 'vitest';
import { GraphBuilder } from './builder';

describe('GraphBuilder shape inference', () => {
  it('broadcasts static and symbolic dims like numpy', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 1, 4]);
    const y = b.input('y', 'float32', [3, 1]);
    expect(b.add(x, y).shape).toEqual(['batch', 3, 4]);
    expect(b.mul(x, 2).shape).toEqual(['batch', 1, 4]);
    expect(() => b.add(x, b.input('z', 'float32', [5]))).toThrow(/cannot broadcast 4 with 5/);
    expect(() => b.add(x, b.input('i', 'int64', [4]))).toThrow(/dtype mismatch.*'x'.*float32.*'i'.*int64/);
  });

  it('infers MatMul with batch broadcasting and rank-1 operands', () => {
    const b = new GraphBuilder();
    const a = b.input('a', 'float32', ['batch', 'seq', 8]);
    expect(b.matmul(a, b.input('w', 'float32', [8, 16])).shape).toEqual(['batch', 'seq', 16]);
    expect(b.matmul(b.input('c', 'float32', [2, 1, 3, 8]), b.input('d', 'float32', [5, 8, 4])).shape).toEqual([2, 5, 3, 4]);
    expect(b.matmul(a, b.input('v', 'float32', [8])).shape).toEqual(['batch', 'seq']);
  });

  it('infers Reshape with 0 and -1, also through symbolic dims', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 'seq', 12]);
    expect(b.reshape(x, [0, 0, 3, 4]).shape).toEqual(['batch', 'seq', 3, 4]);
    // seq * 12 has no name: a fresh symbolic dim.
    const flat = b.reshape(x, [0, -1]).shape;
    expect(flat[0]).toBe('batch');
    expect(flat[1]).toMatch(/^reshape_dim_\d+$/);
    const heads = b.reshape(b.input('k', 'float32', ['batch', 2, 3, 'seq', 4]), [0, 6, -1, 4]);
    expect(heads.shape).toEqual(['batch', 6, 'seq', 4]);
    expect(b.reshape(b.input('s', 'float32', [2, 3, 4]), [-1, 4]).shape).toEqual([6, 4]);
  });

  it('infers Transpose, Concat, Split, Slice, Gather, Reduce*, Squeeze/Unsqueeze, OneHot', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 'seq', 8]);
    expect(b.transpose(x, [2, 0, 1]).shape).toEqual([8, 'batch', 'seq']);
    expect(b.concat([x, x], -1).shape).toEqual(['batch', 'seq', 16]);
    expect(b.concat([x, x], 1).shape[1]).toMatch(/^concat_dim_/);
    expect(b.split(x, [3, 5], 2).map((v) => v.shape)).toEqual([['batch', 'seq', 3], ['batch', 'seq', 5]]);
    expect(b.split(x, 2, -1).map((v) => v.shape[2])).toEqual([4, 4]);
    expect(b.slice(x, [1, -2], [5, 100], [2, 1]).shape[2]).toBe(4);
    expect(b.slice(x, [0], [2 ** 31 - 1], [1]).shape).toEqual(['batch', 'seq', 8]);
    expect(b.slice(x, [2], [6], [2], [2]).shape).toEqual(['batch', 'seq', 2]);
    const table = b.input('table', 'float32', [100, 8]);
    expect(b.gather(table, b.input('ids', 'int64', ['batch', 'seq'])).shape).toEqual(['batch', 'seq', 8]);
    expect(b.reduceMean(x, [-1], true).shape).toEqual(['batch', 'seq', 1]);
    expect(b.reduceSum(x, [0, 2], false).shape).toEqual(['seq']);
    expect(b.reduceMax(x).shape).toEqual([1, 1, 1]);
    expect(b.unsqueeze(x, [0, -1]).shape).toEqual([1, 'batch', 'seq', 8, 1]);
    expect(b.squeeze(b.unsqueeze(x, [1]), [1]).shape).toEqual(['batch', 'seq', 8]);
    expect(b.oneHot(b.input('labels', 'int64', ['batch']), 10).shape).toEqual(['batch', 10]);
    expect(b.shape(x, 1, 3).shape).toEqual([2]);
    expect(b.expand(b.input('e', 'float32', [3, 1]), [2, 3, 4]).shape).toEqual([2, 3, 4]);
  });

  it('names nodes by scope path and keeps names unique', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 2]);
    const w = b.initializer('w', 'float32', [2, 2], [1, 2, 3, 4]);
    b.scope('model', () => b.scope('layers.0', () => b.scope('attn', () => b.scope('q_proj', () => { b.matmul(x, w); b.matmul(x, w); }))));
    const g = b.build();
    expect(g.nodes.map((n) => n.name)).toEqual(['/model/layers.0/attn/q_proj/MatMul', '/model/layers.0/attn/q_proj/MatMul_1']);
    expect(g.nodes[0].outputs[0]).toBe('/model/layers.0/attn/q_proj/MatMul_output_0');
  });

  it('shares equal small constants and rejects foreign values and bad data', () => {
    const b = new GraphBuilder();
    expect(b.ints([0, 1])).toBe(b.ints([0, 1]));
    expect(b.ints([0, 1])).not.toBe(b.ints([1, 0]));
    expect(() => b.initializer('w', 'float32', [2, 3], [1, 2, 3])).toThrow(/'w': 3 elements for dims \[2,3\] \(6\)/);
    const other = new GraphBuilder('other').input('y', 'float32', [2]);
    expect(() => b.neg(other)).toThrow(/'y' is not a value of graph 'graph'/);
    expect(() => b.input('y', 'float32', [2]) && b.input('y', 'float32', [2])).toThrow(/already has a value named 'y'/);
  });

  it('names the node in inference errors', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 3]);
    expect(() => b.scope('attn', () => b.matmul(x, x))).toThrow(/node \/attn\/MatMul \(MatMul\): MatMul inner dims/);
  });
});
