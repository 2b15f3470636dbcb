// Reverse-mode differentiation of builder graphs into graphs of standard ONNX ops.
//
// Memory: the gradient graph is the forward graph plus its backward pass in ONE graph, run by one
// session call. Every forward activation a rule reads (matmul inputs, softmax outputs, norms, ...)
// is an ordinary intermediate tensor that ONNX Runtime's allocator keeps alive from the forward node
// that produces it until the last backward node that consumes it, so peak memory is roughly all
// saved activations of the step at once (as in PyTorch without checkpointing): for a decoder that
// is O(layers x batch x seq x (hidden + heads x seq)) floats, the attention probabilities dominating
// at long sequences. Nothing is kept between runs; frozen weights get no gradient buffers, and LoRA
// parameters get one gradient output each. Halve it with smaller micro-batches (the caller sums).
//
// Gradient checkpointing (GradientRequest.checkpoints, e.g. one segment per decoder layer): the
// backward of a segment reads a recomputed copy of the segment's forward rather than the original,
// so only the values entering a segment outlive the forward pass and one segment's activations are
// alive at a time during the backward, for one more forward's work (transformers'
// gradient_checkpointing). The copy's inputs are gated on the cotangent reaching the segment
// (x + 0 * g[0]), so no execution order can run it before the backward gets there.
import { GraphBuilder } from '../graph/builder';
import { isFloat } from '../graph/element-type';
import { type Graph, type Value, tensorNumbers } from '../graph/ir';
import { prune } from '../graph/prune';
import { rules, zerosLike } from './rules';

export interface GradientRequest {
  /** A scalar float value of the graph (rank 0, or all dims 1). */
  loss: string;
  /** Graph inputs or initializers to differentiate; each gets an output `${prefix}${name}`. */
  wrt: readonly string[];
  /** Default 'grad.'. */
  prefix?: string;
  /** Keep the graph's original outputs (default true). */
  keepOutputs?: boolean;
  /** Node-name prefixes, each a segment whose forward the backward recomputes (see above). */
  checkpoints?: readonly string[];
}

export const GRAD_PREFIX = 'grad.';

export function differentiate(graph: Graph, req: GradientRequest): Graph {
  const prefix = req.prefix ?? GRAD_PREFIX;
  const loss = graph.values.get(req.loss);
  if (loss === undefined) throw new Error(`differentiate '${graph.name}': no value '${req.loss}' to use as the loss`);
  if (!isFloat(loss.dtype) || loss.shape.some((d) => d !== 1)) {
    throw new Error(`differentiate '${graph.name}': loss '${loss.name}' must be a float scalar, got ${loss.dtype} [${loss.shape}]`);
  }
  const inputNames = new Set(graph.inputs.map((v) => v.name));
  for (const name of req.wrt) {
    const v = graph.values.get(name);
    if (v === undefined || (!inputNames.has(name) && !graph.initializers.has(name))) {
      throw new Error(`differentiate '${graph.name}': '${name}' is not a graph input or initializer`);
    }
    if (!isFloat(v.dtype)) throw new Error(`differentiate '${graph.name}': '${name}' is ${v.dtype}; only float tensors have gradients`);
  }

  // Values that depend on a requested parameter through float tensors ...
  const onPath = new Set(req.wrt);
  for (const n of graph.nodes) {
    if (n.inputs.some((i) => onPath.has(i))) for (const o of n.outputs) if (isFloat(graph.values.get(o)!.dtype)) onPath.add(o);
  }
  // ... and values the loss depends on: only nodes in both are differentiated.
  const reachesLoss = new Set([loss.name]);
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i];
    if (n.outputs.some((o) => reachesLoss.has(o))) for (const x of n.inputs) reachesLoss.add(x);
  }
  const active = graph.nodes.filter((n) => n.outputs.some((o) => onPath.has(o) && reachesLoss.has(o)));

  const b = GraphBuilder.extend(graph);
  const contributions = new Map<string, Value[]>();
  const addContribution = (name: string, v: Value) => {
    const list = contributions.get(name) ?? [];
    list.push(v);
    contributions.set(name, list);
  };
  // Gradients meeting at a tensor used more than once are summed, once.
  const total = (name: string): Value | null => {
    const list = contributions.get(name);
    if (list === undefined) return null;
    const sum = list.reduce((acc, v) => b.add(acc, v));
    contributions.set(name, [sum]);
    return sum;
  };
  addContribution(loss.name, b.constant(loss.dtype, loss.shape as number[], [1]));

  const empty = req.checkpoints?.find((prefix) => !graph.nodes.some((n) => n.name.startsWith(prefix)));
  if (empty !== undefined) throw new Error(`differentiate '${graph.name}': no node is in the checkpoint segment '${empty}'`);
  const segmentOf = (nodeName: string) => req.checkpoints?.findIndex((prefix) => nodeName.startsWith(prefix)) ?? -1;
  // Per recomputed segment: each of its values' name in the copy.
  const recomputed = new Map<number, Map<string, string>>();
  const recompute = (segment: number, gate: Value): Map<string, string> => {
    const prefix = req.checkpoints![segment];
    const nodes = graph.nodes.filter((n) => segmentOf(n.name) === segment);
    const produced = new Set(graph.nodes.flatMap((n) => n.outputs));
    const names = new Map<string, string>();
    b.scope(`recompute${prefix.replace(/\/$/, '')}`, () => {
      const zero = b.reshape(b.mul(b.slice(b.reshape(gate, [-1]), [0], [1]), 0), b.ints([]), []);
      for (const n of nodes) {
        const inputs = n.inputs.map((name) => {
          if (name === '') return undefined;
          const inside = names.get(name);
          if (inside !== undefined) return b.value(inside);
          const v = graph.values.get(name)!;
          if (!produced.has(name) || !isFloat(v.dtype)) return v;
          // A value from before the segment: through the gate, once.
          const gated = b.add(v, v.dtype === zero.dtype ? zero : b.cast(zero, v.dtype));
          names.set(name, gated.name);
          return gated;
        });
        const outs = b.node(n.opType, inputs, n.attrs, { outputs: n.outputs.length, outShapes: n.outputs.map((o) => graph.values.get(o)!.shape) });
        n.outputs.forEach((o, i) => names.set(o, outs[i].name));
      }
    });
    return names;
  };

  for (let k = active.length - 1; k >= 0; k--) {
    const node = active[k];
    const g = node.outputs.map((o) => b.scope(`grad${node.name}`, () => total(o)));
    if (g.every((v) => v === null)) continue;
    const rule = rules[node.opType];
    if (rule === undefined) throw new Error(`differentiate '${graph.name}': no gradient rule for ${node.opType} (node ${node.name})`);
    const x = node.inputs.map((n) => (n === '' ? undefined : graph.values.get(n)));
    const needs = (i: number) => x[i] !== undefined && onPath.has(x[i]!.name) && isFloat(x[i]!.dtype);
    // In a checkpointed segment the rule reads the recomputed copy (made when the backward first reaches the segment).
    const segment = segmentOf(node.name);
    let copy: Map<string, string> | undefined;
    if (segment >= 0) {
      copy = recomputed.get(segment);
      if (copy === undefined) recomputed.set(segment, (copy = recompute(segment, g.find((v) => v !== null)!)));
    }
    const seen = (v: Value | undefined) => (v === undefined || copy === undefined ? v : b.value(copy.get(v.name) ?? v.name));
    const cts = b.scope(`grad${node.name}`, () => rule({
      b, node, x: x.map(seen), y: node.outputs.map((o) => seen(graph.values.get(o)!)!), g, needs,
      konst: (i) => {
        const t = x[i] === undefined || inputNames.has(x[i]!.name) ? undefined : graph.initializers.get(x[i]!.name);
        return t === undefined ? undefined : tensorNumbers(t);
      },
    }));
    cts.forEach((ct, i) => {
      if (ct === null || !needs(i)) return;
      const xi = x[i]!;
      if (ct.dtype !== xi.dtype || ct.shape.length !== xi.shape.length) {
        throw new Error(`internal: ${node.opType} rule gave ${ct.dtype} [${ct.shape}] for '${xi.name}' ${xi.dtype} [${xi.shape}] at ${node.name}`);
      }
      addContribution(xi.name, ct);
    });
  }

  b.scope('grad', () => {
    for (const name of req.wrt) {
      const x = graph.values.get(name)!;
      b.output(total(name) ?? zerosLike(b, x), `${prefix}${name}`);
    }
  });
  const out = b.build();
  const outputs = req.keepOutputs === false ? out.outputs.filter((o) => o.name.startsWith(prefix)) : out.outputs;
  return prune({ ...out, outputs });
}
