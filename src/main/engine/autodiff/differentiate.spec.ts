import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../graph/builder';
import { runReference, tensor64 } from '../graph/reference';
import { differentiate } from './differentiate';

describe('differentiate', () => {
  function graph() {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [3]);
    const w = b.initializer('w', 'float32', [3], [1, 2, 3]);
    const frozen = b.initializer('frozen', 'float32', [3], [4, 5, 6]);
    const unused = b.input('unused', 'float32', [3]);
    const ids = b.input('ids', 'int64', [2]);
    const picked = b.gather(b.mul(x, w), ids, 0);
    const side = b.scope('frozen_branch', () => b.exp(b.mul(frozen, frozen)));
    b.output(b.reduceSum(b.add(b.reduceSum(picked, undefined, false), b.reduceSum(side, undefined, false)), undefined, false), 'loss');
    b.output(unused, 'echo');
    return b.build();
  }

  it('differentiates only the path from the parameters to the loss, with zeros for unused ones', () => {
    const g = differentiate(graph(), { loss: 'loss', wrt: ['w', 'unused'] });
    expect(g.outputs.map((o) => o.name)).toEqual(['loss', 'echo', 'grad.w', 'grad.unused']);
    expect(g.nodes.filter((n) => n.name.startsWith('/grad/frozen_branch'))).toEqual([]);
    const feeds = { x: tensor64('float32', [3], [1, 10, 100]), unused: tensor64('float32', [3], [7, 7, 7]), ids: tensor64('int64', [2], [2, 2]) };
    const out = runReference(g, feeds);
    // loss = 2 * x[2] * w[2] + const: d/dw = [0, 0, 2 * 100]; gathered twice, the contributions sum.
    expect(Array.from(out['grad.w'].data)).toEqual([0, 0, 200]);
    expect(Array.from(out['grad.unused'].data)).toEqual([0, 0, 0]);
  });

  it('rejects integer parameters, non-scalar losses and unknown names', () => {
    expect(() => differentiate(graph(), { loss: 'loss', wrt: ['ids'] })).toThrow(/'ids' is int64; only float tensors have gradients/);
    expect(() => differentiate(graph(), { loss: 'echo', wrt: ['w'] })).toThrow(/loss 'echo' must be a float scalar/);
    expect(() => differentiate(graph(), { loss: 'loss', wrt: ['nope'] })).toThrow(/'nope' is not a graph input or initializer/);
  });

  it('names the node when an op has no rule', () => {
    const b = new GraphBuilder('g');
    const x = b.input('x', 'float32', [3]);
    const padded = b.scope('pad', () => b.pad(x, [1, 0]));
    b.output(b.reduceSum(padded, undefined, false), 'loss');
    expect(() => differentiate(b.build(), { loss: 'loss', wrt: ['x'] })).toThrow(/no gradient rule for Pad \(node \/pad\/Pad\)/);
  });
});
