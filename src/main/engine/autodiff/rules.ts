// One vector-Jacobian rule per ONNX op, in the manner of JAX's and tinygrad's rule tables: given the
// node's inputs x, outputs y and output cotangents g, return one cotangent per input (null where an
// input carries none: indices, shapes, conditions). Rules build standard ONNX ops through the
// builder, so gradient graphs run on plain onnxruntime-node. What each op needs follows ONNX
// Runtime's orttraining/orttraining/core/graph/gradient_builder.cc.
import type { GraphBuilder } from '../graph/builder';
import { isFloat } from '../graph/element-type';
import { attrFloat, attrInt, attrInts, type Dim, type Node, type Value } from '../graph/ir';
import { normAxis } from '../graph/shape';

export interface RuleContext {
  b: GraphBuilder;
  node: Node;
  /** Inputs (undefined where an optional input is omitted). */
  x: readonly (Value | undefined)[];
  y: readonly Value[];
  /** Cotangent of each output, null where no gradient flows into it. */
  g: readonly (Value | null)[];
  /** Whether input i needs a cotangent (float and on the path from a requested parameter). */
  needs(i: number): boolean;
  /** The numbers of a constant input, undefined when computed at runtime. */
  konst(i: number): number[] | undefined;
}

export type Cotangents = readonly (Value | null)[];
export type Rule = (ctx: RuleContext) => Cotangents;

const INT_MAX = 2 ** 31 - 1;

/** Sums `g` over the axes that broadcasting added or stretched, so it takes `x`'s shape (ReduceSum + Squeeze). */
export function unbroadcast(b: GraphBuilder, g: Value, x: Value): Value {
  const lead = g.shape.length - x.shape.length;
  const axes: number[] = Array.from({ length: lead }, (_, i) => i);
  x.shape.forEach((d, i) => { if (d === 1 && g.shape[i + lead] !== 1) axes.push(i + lead); });
  if (axes.length === 0) return g;
  const summed = b.reduceSum(g, axes, true);
  return lead === 0 ? summed : b.squeeze(summed, axes.slice(0, lead));
}

/** Reshapes `g` to the runtime shape of `x` (Reshape, Squeeze, Unsqueeze and Flatten all invert this way). */
const reshapeLike = (b: GraphBuilder, g: Value, x: Value): Value => b.reshape(g, b.shape(x), x.shape);

export const zerosLike = (b: GraphBuilder, v: Value): Value => b.constantOfShape(b.shape(v), 0, v.dtype, v.shape);

const lastTwoSwapped = (b: GraphBuilder, v: Value): Value => {
  const r = v.shape.length;
  return b.transpose(v, Array.from({ length: r }, (_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i)));
};

const reduceAxes = (ctx: RuleContext): number[] => {
  const x = ctx.x[0]!;
  const axes = ctx.node.opType === 'ReduceSum' ? ctx.konst(1) : attrInts(ctx.node.attrs, 'axes');
  return axes === undefined || axes.length === 0 ? x.shape.map((_, i) => i) : axes.map((a) => normAxis(a, x.shape.length));
};

/** A reduction's cotangent broadcast back over the reduced axes. */
const expandReduced = (ctx: RuleContext, v: Value): Value => {
  const { b } = ctx;
  const x = ctx.x[0]!;
  const kept = attrInt(ctx.node.attrs, 'keepdims', 1) === 1 ? v : b.unsqueeze(v, reduceAxes(ctx));
  return b.expand(kept, b.shape(x), x.shape);
};

const only = (g: Value | null): Value => {
  if (g === null) throw new Error('internal: rule called without a cotangent');
  return g;
};

const elementwise = (f: (ctx: RuleContext, g: Value, x: Value, y: Value) => Value): Rule => (ctx) => [f(ctx, only(ctx.g[0]), ctx.x[0]!, ctx.y[0])];

export const rules: Readonly<Record<string, Rule>> = {
  Add: ({ b, x, g: [g] }) => [unbroadcast(b, only(g), x[0]!), unbroadcast(b, only(g), x[1]!)],
  Sub: ({ b, x, g: [g], needs }) => [unbroadcast(b, only(g), x[0]!), needs(1) ? unbroadcast(b, b.neg(only(g)), x[1]!) : null],
  Mul: ({ b, x, g: [g], needs }) => [
    needs(0) ? unbroadcast(b, b.mul(only(g), x[1]!), x[0]!) : null,
    needs(1) ? unbroadcast(b, b.mul(only(g), x[0]!), x[1]!) : null,
  ],
  Div: ({ b, x, y, g: [g], needs }) => [
    needs(0) ? unbroadcast(b, b.div(only(g), x[1]!), x[0]!) : null,
    needs(1) ? unbroadcast(b, b.neg(b.div(b.mul(only(g), y[0]), x[1]!)), x[1]!) : null,
  ],
  Pow: ({ b, x, g: [g], needs, node }) => {
    if (needs(1)) throw new Error(`${node.name}: Pow is differentiable in its base only; the exponent must be a constant`);
    const [base, p] = [x[0]!, x[1]!];
    // x^2 (RMSNorm's square): 2 x g, two Muls, where the general form costs a Pow on the whole tensor.
    const exponent = b.constantValues(p);
    if (exponent?.length === 1 && exponent[0] === 2) return [unbroadcast(b, b.mul(b.mul(only(g), base), 2), base), null];
    return [unbroadcast(b, b.mul(only(g), b.mul(p, b.pow(base, b.sub(p, 1)))), base), null];
  },
  Neg: elementwise(({ b }, g) => b.neg(g)),
  Identity: elementwise((_, g) => g),
  Exp: elementwise(({ b }, g, _x, y) => b.mul(g, y)),
  Log: elementwise(({ b }, g, x) => b.div(g, x)),
  Sqrt: elementwise(({ b }, g, _x, y) => b.div(g, b.mul(y, 2))),
  Reciprocal: elementwise(({ b }, g, _x, y) => b.neg(b.mul(g, b.mul(y, y)))),
  Tanh: elementwise(({ b }, g, _x, y) => b.mul(g, b.sub(1, b.mul(y, y)))),
  Sigmoid: elementwise(({ b }, g, _x, y) => b.mul(g, b.mul(y, b.sub(1, y)))),
  Erf: elementwise(({ b }, g, x) => b.mul(g, b.mul(2 / Math.sqrt(Math.PI), b.exp(b.neg(b.mul(x, x)))))),
  Softplus: elementwise(({ b }, g, x) => b.mul(g, b.sigmoid(x))),
  Sin: elementwise(({ b }, g, x) => b.mul(g, b.cos(x))),
  Cos: elementwise(({ b }, g, x) => b.neg(b.mul(g, b.sin(x)))),
  Softmax: elementwise(({ b, node }, g, _x, y) => {
    const axis = attrInt(node.attrs, 'axis', -1);
    return b.mul(y, b.sub(g, b.reduceSum(b.mul(g, y), [axis], true)));
  }),
  LogSoftmax: elementwise(({ b, node }, g, _x, y) => {
    const axis = attrInt(node.attrs, 'axis', -1);
    return b.sub(g, b.mul(b.exp(y), b.reduceSum(g, [axis], true)));
  }),
  ReduceSum: (ctx) => [expandReduced(ctx, only(ctx.g[0])), null],
  ReduceMean: (ctx) => {
    const { b } = ctx;
    const x = ctx.x[0]!;
    const dims = reduceAxes(ctx).map((a) => x.shape[a]);
    const count = dims.every((d): d is number => typeof d === 'number')
      ? b.scalar(dims.reduce((p, d) => p * d, 1), x.dtype)
      : b.div(b.cast(b.size(x), x.dtype), b.cast(b.size(ctx.y[0]), x.dtype));
    return [b.div(expandReduced(ctx, only(ctx.g[0])), count)];
  },
  // Ties share the gradient equally, as in ONNX Runtime's ReduceMax gradient.
  ReduceMax: (ctx) => {
    const { b } = ctx;
    const x = ctx.x[0]!;
    const yb = expandReduced(ctx, ctx.y[0]);
    const mask = b.cast(b.equal(x, yb), x.dtype);
    const keep = attrInt(ctx.node.attrs, 'keepdims', 1) === 1;
    const count = b.reduceSum(mask, reduceAxes(ctx), keep);
    return [b.mul(mask, expandReduced(ctx, b.div(only(ctx.g[0]), count)))];
  },
  Reshape: ({ b, x, g: [g] }) => [reshapeLike(b, only(g), x[0]!), null],
  Flatten: ({ b, x, g: [g] }) => [reshapeLike(b, only(g), x[0]!)],
  Squeeze: ({ b, x, g: [g] }) => [reshapeLike(b, only(g), x[0]!), null],
  Unsqueeze: ({ b, x, g: [g] }) => [reshapeLike(b, only(g), x[0]!), null],
  Transpose: ({ b, x, g: [g], node }) => {
    const r = x[0]!.shape.length;
    const perm = attrInts(node.attrs, 'perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
    const inverse = new Array<number>(r);
    perm.forEach((p, i) => { inverse[p] = i; });
    return [b.transpose(only(g), inverse)];
  },
  Expand: ({ b, x, g: [g] }) => [unbroadcast(b, only(g), x[0]!), null],
  Concat: ({ b, x, g: [g], node }) => {
    const xs = x as Value[];
    const axis = normAxis(attrInt(node.attrs, 'axis'), xs[0].shape.length);
    const sizes = xs.map((v) => v.shape[axis]);
    if (sizes.every((d): d is number => typeof d === 'number')) return b.split(only(g), sizes, axis);
    const runtime = b.concat(xs.map((v) => b.shape(v, axis, axis + 1)), 0);
    return b.split(only(g), runtime, axis, xs.map((v) => v.shape));
  },
  Split: ({ b, y, g, node }) => [b.concat(y.map((v, i) => g[i] ?? zerosLike(b, v)), attrInt(node.attrs, 'axis', 0)), null],
  // Pads the cotangent back to the input's extent; steps other than 1 are not needed by any model
  // here. Over a symbolic dim d the pads are computed at run time (d + start for a negative start,
  // d - end for a non-negative end), assuming starts/ends lie within the dim, as sequence slices do.
  Slice: ({ b, x, g: [g], konst, node }) => {
    const data = x[0]!;
    const r = data.shape.length;
    const starts = konst(1);
    const ends = konst(2);
    const axes = konst(3) ?? starts?.map((_, i) => i);
    const steps = konst(4);
    if (starts === undefined || ends === undefined || axes === undefined || (steps !== undefined && steps.some((s) => s !== 1))) {
      throw new Error(`${node.name}: Slice gradient needs constant starts/ends/axes and unit steps`);
    }
    const pads: (number | Value)[] = new Array<number>(2 * r).fill(0);
    axes.forEach((axRaw, i) => {
      const a = normAxis(axRaw, r);
      const d: Dim = data.shape[a];
      const [s, e] = [starts[i], ends[i]];
      if (typeof d === 'number') {
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + d : v, 0), d);
        pads[a] = clamp(s);
        pads[a + r] = d - Math.max(clamp(e), clamp(s));
      } else {
        const dim = () => b.shape(data, a, a + 1);
        pads[a] = s >= 0 ? s : b.add(dim(), s);
        pads[a + r] = e >= INT_MAX ? 0 : e < 0 ? -e : b.sub(dim(), e);
      }
    });
    const padsValue = pads.every((p): p is number => typeof p === 'number')
      ? pads
      : b.concat(pads.map((p) => (typeof p === 'number' ? b.ints([p]) : p)), 0);
    return [b.pad(only(g), padsValue, data.shape), null, null, null, null];
  },
  // Axis 0 (an embedding's rows; indices of any rank): each row of g is summed into zeros at the row
  // it came from by ScatterElements add, whose largest tensor is the indices broadcast to g's rows
  // ([tokens, width] int64), where a one-hot product needs [tokens, vocabulary]. ONNX Runtime splits
  // that scatter across threads by the columns it writes, so one thread sums a row's repeats, in
  // order (ScatterND add splits by index and loses sums: docs/engine.md). Another axis (rows chosen
  // along a sequence, a 1-D list): onehot(indices)^T @ g, the gathered axis moved next to last so
  // one broadcast MatMul sums each index's rows back.
  Gather: ({ b, x, g: [g], node }) => {
    const [data, idx] = [x[0]!, x[1]!];
    const r = data.shape.length;
    const axis = normAxis(attrInt(node.attrs, 'axis', 0), r);
    if (axis === 0) {
      const rows = b.flatten(only(g), idx.shape.length);
      const where = b.expand(b.reshape(idx, [-1, 1]), b.shape(rows), rows.shape);
      const zeros = b.constantOfShape(b.concat([b.shape(data, 0, 1), b.shape(rows, 1, 2)], 0), 0, data.dtype, [data.shape[0], rows.shape[1]]);
      return [reshapeLike(b, b.scatterElements(zeros, where, rows, 0, 'add'), data), null];
    }
    const oneHot = b.oneHot(idx, b.shape(data, axis, axis + 1), data.dtype);
    if (idx.shape.length !== 1) throw new Error(`${node.name}: Gather gradient on axis ${axis} needs 1-D indices`);
    if (axis === r - 1) return [b.matmul(only(g), oneHot), null];
    const perm = Array.from({ length: r }, (_, i) => i).filter((i) => i !== axis);
    perm.splice(r - 2, 0, axis);
    const inverse = perm.map((_, i) => perm.indexOf(i));
    const moved = axis === r - 2 ? only(g) : b.transpose(only(g), perm);
    const summed = b.matmul(b.transpose(oneHot, [1, 0]), moved);
    return [axis === r - 2 ? summed : b.transpose(summed, inverse), null];
  },
  Where: ({ b, x, g: [g], needs }) => [
    null,
    needs(1) ? unbroadcast(b, b.where(x[0]!, only(g), 0), x[1]!) : null,
    needs(2) ? unbroadcast(b, b.where(x[0]!, 0, only(g)), x[2]!) : null,
  ],
  Cast: ({ b, x, g: [g] }) => [isFloat(x[0]!.dtype) ? b.cast(only(g), x[0]!.dtype) : null],
  // With A' = op(A), B' = op(B): dA' = alpha g B'^T and dB' = alpha A'^T g, written with Gemm's
  // transpose flags rather than Transpose nodes (see MatMul).
  Gemm: ({ b, x, g: [g], needs, node }) => {
    const [a, w, c] = [x[0]!, x[1]!, x[2]];
    const alpha = attrFloat(node.attrs, 'alpha', 1);
    const [ta, tb] = [attrInt(node.attrs, 'transA', 0) === 1, attrInt(node.attrs, 'transB', 0) === 1];
    const gv = only(g);
    const dA = ta ? b.gemm(w, gv, undefined, { alpha, transA: tb, transB: true }) : b.gemm(gv, w, undefined, { alpha, transB: !tb });
    const dB = tb ? b.gemm(gv, a, undefined, { alpha, transA: true, transB: ta }) : b.gemm(a, gv, undefined, { alpha, transA: !ta });
    return [
      needs(0) ? dA : null,
      needs(1) ? dB : null,
      c !== undefined && needs(2) ? unbroadcast(b, b.mul(gv, attrFloat(node.attrs, 'beta', 1)), c) : null,
    ];
  },
  // A 2-D right operand (every linear layer) goes through Gemm on flattened rows: Gemm's transB reads
  // W^T in place, where Transpose(W) of a frozen weight would be constant-folded by ORT into a second
  // copy of every weight; and dW comes out summed over rows without a batched intermediate.
  MatMul: ({ b, x, g: [g], needs, node }) => {
    const [a, w] = [x[0]!, x[1]!];
    if (a.shape.length < 2 || w.shape.length < 2) throw new Error(`${node.name}: MatMul gradient needs operands of rank >= 2`);
    if (w.shape.length === 2) {
      const rows = (v: Value) => b.flatten(v, v.shape.length - 1);
      return [
        needs(0) ? reshapeLike(b, b.gemm(rows(only(g)), w, undefined, { transB: true }), a) : null,
        needs(1) ? b.gemm(rows(a), rows(only(g)), undefined, { transA: true }) : null,
      ];
    }
    return [
      needs(0) ? unbroadcast(b, b.matmul(only(g), lastTwoSwapped(b, w)), a) : null,
      needs(1) ? unbroadcast(b, b.matmul(lastTwoSwapped(b, a), only(g)), w) : null,
    ];
  },
};
