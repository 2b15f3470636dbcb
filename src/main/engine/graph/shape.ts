// Build-time shape and dtype inference, one entry per op the builder offers. Static dims are
// computed exactly; symbolic dims are carried through where the op preserves them and replaced by a
// fresh name where the size depends on runtime values.
import { dtypeFromOnnx as dtypeOfCode, isFloat, type ElementType } from './element-type';
import { attrInt, attrInts, type Attrs, type Dim, type Shape, type Value, shapeToString } from './ir';

export interface InferContext {
  /** The values of a constant (initializer) input as numbers, or undefined when computed at runtime. */
  konst(i: number): number[] | undefined;
  /** A fresh symbolic dim name for sizes only known at runtime. */
  fresh(): string;
  /** How many outputs the node declares (Split). */
  nOutputs: number;
}

export interface Inferred { dtype: ElementType; shape: Shape }
type Infer = (ins: readonly (Value | undefined)[], attrs: Attrs, ctx: InferContext) => Inferred[];

/** numpy broadcasting of one dim pair; two different symbolic names are assumed equal (ORT checks). */
export function broadcastDim(a: Dim, b: Dim, where: string): Dim {
  if (a === b || b === 1) return a;
  if (a === 1) return b;
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${where}: cannot broadcast ${a} with ${b}`);
  return typeof a === 'number' ? a : b;
}

export function broadcastShapes(shapes: readonly Shape[], where: string): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k >= 0) d = broadcastDim(d, s[k], `${where} ${shapes.map(shapeToString).join(' vs ')}`);
    }
    out.push(d);
  }
  return out;
}

export const normAxis = (axis: number, rank: number, where = 'axis'): number => {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`${where} ${axis} is out of range for rank ${rank}`);
  return a;
};

const need = (v: Value | undefined, what: string): Value => {
  if (v === undefined) throw new Error(`missing input ${what}`);
  return v;
};

const same: Infer = (ins) => [{ dtype: need(ins[0], 'X').dtype, shape: ins[0]!.shape }];
const floatUnary: Infer = (ins) => {
  const x = need(ins[0], 'X');
  if (!isFloat(x.dtype)) throw new Error(`expects a float input, got ${x.dtype} '${x.name}'`);
  return [{ dtype: x.dtype, shape: x.shape }];
};
const binary = (boolOut: boolean): Infer => (ins) => {
  const [a, b] = [need(ins[0], 'A'), need(ins[1], 'B')];
  if (a.dtype !== b.dtype) throw new Error(`dtype mismatch: '${a.name}' is ${a.dtype}, '${b.name}' is ${b.dtype}`);
  return [{ dtype: boolOut ? 'bool' : a.dtype, shape: broadcastShapes([a.shape, b.shape], 'broadcast') }];
};

const product = (dims: readonly Dim[]): Dim | undefined =>
  dims.every((d) => typeof d === 'number') ? (dims as number[]).reduce((p, d) => p * d, 1) : dims.length === 1 ? dims[0] : undefined;

function reduceShape(x: Value, axes: readonly number[] | undefined, keep: boolean): Shape {
  const all = axes === undefined || axes.length === 0;
  const set = new Set((axes ?? []).map((a) => normAxis(a, x.shape.length)));
  const out: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (all || set.has(i)) { if (keep) out.push(1); } else out.push(d);
  });
  return out;
}

/** Reshape target (0 copies, -1 infers): exact when the dims it must divide are static or cancel. */
function reshapeShape(x: Value, target: readonly number[], ctx: InferContext): Dim[] {
  const out: Dim[] = target.map((t, i) => (t === 0 ? x.shape[i] : t));
  const minus = out.indexOf(-1);
  if (minus < 0) return out;
  const syms = (ds: readonly Dim[]) => ds.filter((d): d is string => typeof d === 'string');
  const nums = (ds: readonly Dim[]) => ds.reduce<number>((p, d) => (typeof d === 'number' && d !== -1 ? p * d : p), 1);
  const left = syms(x.shape);
  for (const s of syms(out)) { const k = left.indexOf(s); if (k >= 0) left.splice(k, 1); else return out.map((d) => (d === -1 ? ctx.fresh() : d)); }
  const ratio = nums(x.shape) / nums(out);
  if (left.length === 0 && Number.isInteger(ratio)) out[minus] = ratio;
  else if (left.length === 1 && ratio === 1) out[minus] = left[0];
  else out[minus] = ctx.fresh();
  return out;
}

function matmulShape(a: Value, b: Value): Dim[] {
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  if (as.length < 1 || bs.length < 1) throw new Error('MatMul needs rank >= 1');
  const [m, k1] = as.slice(-2);
  const [k2, n] = bs.slice(-2);
  broadcastDim(k1, k2, `MatMul inner dims ${shapeToString(a.shape)} x ${shapeToString(b.shape)}`);
  if (k1 !== k2 && typeof k1 === 'number' && typeof k2 === 'number') throw new Error('MatMul inner dims differ');
  const batch = broadcastShapes([as.slice(0, -2), bs.slice(0, -2)], 'MatMul batch');
  return [...batch, ...(a.shape.length === 1 ? [] : [m]), ...(b.shape.length === 1 ? [] : [n])];
}

const INT_MAX = 2 ** 31 - 1;

function sliceShape(x: Value, ctx: InferContext): Dim[] {
  const starts = ctx.konst(1);
  const ends = ctx.konst(2);
  const rank = x.shape.length;
  if (starts === undefined || ends === undefined) return x.shape.map(() => ctx.fresh());
  const axes = ctx.konst(3) ?? starts.map((_, i) => i);
  const steps = ctx.konst(4) ?? starts.map(() => 1);
  const out: Dim[] = [...x.shape];
  axes.forEach((ax, i) => {
    const a = normAxis(ax, rank);
    const d = x.shape[a];
    const [s, e, st] = [starts[i], ends[i], steps[i]];
    if (typeof d === 'number') {
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
      const lo = st > 0 ? 0 : -1;
      const hi = st > 0 ? d : d - 1;
      const [cs, ce] = [clamp(s, lo, hi), clamp(e, lo, hi)];
      out[a] = Math.max(0, Math.ceil((ce - cs) / st));
    } else out[a] = s === 0 && e >= INT_MAX && st === 1 ? d : ctx.fresh();
  });
  return out;
}

export const inferRules: Readonly<Record<string, Infer>> = {
  Add: binary(false), Sub: binary(false), Mul: binary(false), Div: binary(false), Mod: binary(false), Pow: (ins) => {
    const [a, b] = [need(ins[0], 'X'), need(ins[1], 'Y')];
    return [{ dtype: a.dtype, shape: broadcastShapes([a.shape, b.shape], 'Pow') }];
  },
  Equal: binary(true), Greater: binary(true), Less: binary(true), And: binary(true), Or: binary(true),
  Not: same, Identity: same,
  Neg: floatUnary, Exp: floatUnary, Log: floatUnary, Sqrt: floatUnary, Reciprocal: floatUnary, Tanh: floatUnary,
  Sigmoid: floatUnary, Erf: floatUnary, Softplus: floatUnary, Sin: floatUnary, Cos: floatUnary,
  Softmax: floatUnary, LogSoftmax: floatUnary,
  Cast: (ins, attrs) => [{ dtype: dtypeOfCode(attrInt(attrs, 'to')), shape: need(ins[0], 'input').shape }],
  Where: (ins) => {
    const [c, x, y] = [need(ins[0], 'condition'), need(ins[1], 'X'), need(ins[2], 'Y')];
    if (c.dtype !== 'bool') throw new Error(`Where condition '${c.name}' must be bool, got ${c.dtype}`);
    if (x.dtype !== y.dtype) throw new Error(`Where branches differ: ${x.dtype} vs ${y.dtype}`);
    return [{ dtype: x.dtype, shape: broadcastShapes([c.shape, x.shape, y.shape], 'Where') }];
  },
  MatMul: (ins) => {
    const [a, b] = [need(ins[0], 'A'), need(ins[1], 'B')];
    if (a.dtype !== b.dtype) throw new Error(`MatMul dtype mismatch: ${a.dtype} vs ${b.dtype}`);
    return [{ dtype: a.dtype, shape: matmulShape(a, b) }];
  },
  Gemm: (ins, attrs) => {
    const [a, b] = [need(ins[0], 'A'), need(ins[1], 'B')];
    if (a.shape.length !== 2 || b.shape.length !== 2) throw new Error('Gemm operands must be 2-D');
    const m = attrInt(attrs, 'transA', 0) ? a.shape[1] : a.shape[0];
    const n = attrInt(attrs, 'transB', 0) ? b.shape[0] : b.shape[1];
    if (ins[2] !== undefined) broadcastShapes([[m, n], ins[2].shape], 'Gemm C');
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
  ReduceSum: (ins, attrs, ctx) => {
    const x = need(ins[0], 'data');
    if (ins[1] !== undefined && ctx.konst(1) === undefined) throw new Error('ReduceSum axes must be a constant');
    return [{ dtype: x.dtype, shape: reduceShape(x, ctx.konst(1), attrInt(attrs, 'keepdims', 1) === 1) }];
  },
  ReduceMean: (ins, attrs) => [{ dtype: need(ins[0], 'data').dtype, shape: reduceShape(ins[0]!, attrInts(attrs, 'axes'), attrInt(attrs, 'keepdims', 1) === 1) }],
  ReduceMax: (ins, attrs) => [{ dtype: need(ins[0], 'data').dtype, shape: reduceShape(ins[0]!, attrInts(attrs, 'axes'), attrInt(attrs, 'keepdims', 1) === 1) }],
  Reshape: (ins, _attrs, ctx) => {
    const x = need(ins[0], 'data');
    const t = ctx.konst(1);
    const rank = need(ins[1], 'shape').shape[0];
    if (t === undefined && typeof rank !== 'number') throw new Error('Reshape to a runtime shape of unknown rank');
    return [{ dtype: x.dtype, shape: t === undefined ? Array.from({ length: rank as number }, () => ctx.fresh()) : reshapeShape(x, t, ctx) }];
  },
  Transpose: (ins, attrs) => {
    const x = need(ins[0], 'data');
    const perm = attrInts(attrs, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    if (perm.length !== x.shape.length) throw new Error(`Transpose perm [${perm}] does not match rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
  Squeeze: (ins, _attrs, ctx) => {
    const x = need(ins[0], 'data');
    const axes = (ctx.konst(1) ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normAxis(a, x.shape.length));
    for (const a of axes) if (typeof x.shape[a] === 'number' && x.shape[a] !== 1) throw new Error(`Squeeze axis ${a} has size ${x.shape[a]}`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
  },
  Unsqueeze: (ins, _attrs, ctx) => {
    const x = need(ins[0], 'data');
    const axesIn = ctx.konst(1);
    if (axesIn === undefined) throw new Error('Unsqueeze axes must be a constant');
    const rank = x.shape.length + axesIn.length;
    const axes = axesIn.map((a) => normAxis(a, rank));
    const out: Dim[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) out.push(axes.includes(i) ? 1 : x.shape[k++]);
    return [{ dtype: x.dtype, shape: out }];
  },
  Expand: (ins, _attrs, ctx) => {
    const x = need(ins[0], 'input');
    const t = ctx.konst(1);
    const rank = need(ins[1], 'shape').shape[0];
    if (t === undefined) {
      if (typeof rank !== 'number') throw new Error('Expand to a runtime shape of unknown rank');
      return [{ dtype: x.dtype, shape: Array.from({ length: Math.max(rank, x.shape.length) }, () => ctx.fresh()) }];
    }
    return [{ dtype: x.dtype, shape: broadcastShapes([x.shape, t], 'Expand') }];
  },
  Concat: (ins, attrs, ctx) => {
    const xs = ins.map((v, i) => need(v, `input ${i}`));
    const rank = xs[0].shape.length;
    const axis = normAxis(attrInt(attrs, 'axis'), rank);
    const out: Dim[] = [...xs[0].shape];
    for (let i = 0; i < rank; i++) {
      if (i === axis) {
        const sizes = xs.map((x) => x.shape[i]);
        out[i] = sizes.every((d) => typeof d === 'number') ? (sizes as number[]).reduce((a, b) => a + b, 0) : ctx.fresh();
      } else out[i] = xs.map((x) => x.shape[i]).find((d) => typeof d === 'number') ?? out[i];
    }
    for (const x of xs) {
      if (x.shape.length !== rank || x.dtype !== xs[0].dtype) throw new Error(`Concat inputs differ in rank or dtype ('${x.name}')`);
    }
    return [{ dtype: xs[0].dtype, shape: out }];
  },
  Split: (ins, attrs, ctx) => {
    const x = need(ins[0], 'input');
    const axis = normAxis(attrInt(attrs, 'axis', 0), x.shape.length);
    const d = x.shape[axis];
    let sizes: Dim[] | undefined = ctx.konst(1);
    if (sizes === undefined) {
      sizes = typeof d === 'number' && d % ctx.nOutputs === 0
        ? Array.from({ length: ctx.nOutputs }, () => d / ctx.nOutputs)
        : Array.from({ length: ctx.nOutputs }, () => ctx.fresh());
    }
    if (sizes.length !== ctx.nOutputs) throw new Error(`Split into ${sizes.length} sizes but ${ctx.nOutputs} outputs`);
    return sizes.map((s) => ({ dtype: x.dtype, shape: x.shape.map((e, i) => (i === axis ? s : e)) }));
  },
  Slice: (ins, _attrs, ctx) => [{ dtype: need(ins[0], 'data').dtype, shape: sliceShape(ins[0]!, ctx) }],
  ScatterElements: (ins, attrs) => {
    const [data, idx, updates] = [need(ins[0], 'data'), need(ins[1], 'indices'), need(ins[2], 'updates')];
    if (idx.dtype !== 'int64') throw new Error(`ScatterElements indices '${idx.name}' must be int64`);
    if (idx.shape.length !== data.shape.length || updates.shape.length !== data.shape.length) throw new Error(`ScatterElements: data, indices and updates must have one rank (${shapeToString(data.shape)}, ${shapeToString(idx.shape)}, ${shapeToString(updates.shape)})`);
    normAxis(attrInt(attrs, 'axis', 0), data.shape.length);
    return [{ dtype: data.dtype, shape: [...data.shape] }];
  },
  Gather: (ins, attrs) => {
    const [x, idx] = [need(ins[0], 'data'), need(ins[1], 'indices')];
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error(`Gather indices '${idx.name}' must be int64/int32`);
    const axis = normAxis(attrInt(attrs, 'axis', 0), x.shape.length);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
  },
  OneHot: (ins, attrs, ctx) => {
    const [idx, , values] = [need(ins[0], 'indices'), need(ins[1], 'depth'), need(ins[2], 'values')];
    const depth: Dim = ctx.konst(1)?.[0] ?? ctx.fresh();
    const rank = idx.shape.length + 1;
    const axis = normAxis(attrInt(attrs, 'axis', -1), rank);
    const out: Dim[] = [...idx.shape];
    out.splice(axis, 0, depth);
    return [{ dtype: values.dtype, shape: out }];
  },
  Shape: (ins, attrs) => {
    const x = need(ins[0], 'data');
    const r = x.shape.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    return [{ dtype: 'int64', shape: [Math.max(0, clamp(attrInt(attrs, 'end', r)) - clamp(attrInt(attrs, 'start', 0)))] }];
  },
  Size: () => [{ dtype: 'int64', shape: [] }],
  ConstantOfShape: (ins, attrs, ctx) => {
    const v = attrs.value;
    const dims = ctx.konst(0);
    const len = need(ins[0], 'input').shape[0];
    const shape: Dim[] = dims ?? Array.from({ length: typeof len === 'number' ? len : 0 }, () => ctx.fresh());
    if (dims === undefined && typeof len !== 'number') throw new Error('ConstantOfShape of unknown rank');
    return [{ dtype: v?.kind === 'tensor' ? v.value.dtype : 'float32', shape }];
  },
  Range: (ins, _attrs, ctx) => {
    const [s, l, d] = [ctx.konst(0), ctx.konst(1), ctx.konst(2)];
    const n = s && l && d ? Math.max(0, Math.ceil((l[0] - s[0]) / d[0])) : ctx.fresh();
    return [{ dtype: need(ins[0], 'start').dtype, shape: [n] }];
  },
  Flatten: (ins, attrs, ctx) => {
    const x = need(ins[0], 'input');
    const r = x.shape.length;
    const axis = attrInt(attrs, 'axis', 1) < 0 ? attrInt(attrs, 'axis', 1) + r : attrInt(attrs, 'axis', 1);
    return [{ dtype: x.dtype, shape: [product(x.shape.slice(0, axis)) ?? ctx.fresh(), product(x.shape.slice(axis)) ?? ctx.fresh()] }];
  },
  Pad: (ins, _attrs, ctx) => {
    const x = need(ins[0], 'data');
    const pads = ctx.konst(1);
    const r = x.shape.length;
    const shape = x.shape.map((d, i) => {
      if (pads === undefined) return ctx.fresh();
      const add = pads[i] + pads[i + r];
      return add === 0 ? d : typeof d === 'number' ? d + add : ctx.fresh();
    });
    return [{ dtype: x.dtype, shape }];
  },
};

