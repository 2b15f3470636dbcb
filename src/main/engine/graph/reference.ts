// A float64 reference interpreter for the builder's op subset, independent of ONNX Runtime (whose CPU
// kernels lack float64 for many ops). Every tensor is a Float64Array whatever its declared dtype
// (integers and booleans are exact in float64), so float32 graphs run here in float64: this is the
// ground truth the finite-difference checks and the ORT comparisons use. A node's float16 outputs are
// rounded to half precision (overflow to infinity included), as a GPU kernel that computes wider and
// stores float16 does, which ONNX Runtime's CPU kernels (mostly cast to float32) cannot show. Clarity
// over speed.
import { dtypeFromOnnx, isFloat, type ElementType } from './element-type';
import { attrFloat, attrInt, attrInts, numel, type Attrs, type Graph, type TensorData } from './ir';
import { bf16BitsToFloat32, f16BitsToFloat32, float32ToF16Bits } from './half-float';

export interface Tensor64 {
  readonly dtype: ElementType;
  readonly dims: readonly number[];
  readonly data: Float64Array;
}

export const tensor64 = (dtype: ElementType, dims: readonly number[], data: ArrayLike<number>): Tensor64 => {
  if (data.length !== numel(dims)) throw new Error(`tensor of dims [${dims}] needs ${numel(dims)} values, got ${data.length}`);
  return { dtype, dims: [...dims], data: Float64Array.from(data) };
};

export function fromTensorData(t: TensorData): Tensor64 {
  const raw = t.dtype === 'float16' ? f16BitsToFloat32(t.data as Uint16Array)
    : t.dtype === 'bfloat16' ? bf16BitsToFloat32(t.data as Uint16Array) : t.data;
  return { dtype: t.dtype, dims: t.dims, data: Float64Array.from(raw as ArrayLike<number | bigint>, Number) };
}

const stridesOf = (dims: readonly number[]): number[] => {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) { s[i] = acc; acc *= dims[i]; }
  return s;
};

function broadcastDims(list: readonly (readonly number[])[]): number[] {
  const rank = Math.max(...list.map((d) => d.length));
  return Array.from({ length: rank }, (_, i) => {
    let out = 1;
    for (const d of list) {
      const v = d[i - (rank - d.length)] ?? 1;
      if (v !== 1 && out !== 1 && v !== out) throw new Error(`cannot broadcast [${list.map((x) => `[${x}]`).join(' vs ')}]`);
      if (v !== 1) out = v;
    }
    return out;
  });
}

/** Elementwise map over broadcast inputs. */
function mapN(ins: readonly Tensor64[], dtype: ElementType, f: (...xs: number[]) => number, dimsIn?: number[]): Tensor64 {
  const dims = dimsIn ?? broadcastDims(ins.map((t) => t.dims));
  const rank = dims.length;
  const strides = ins.map((t) => {
    const s = stridesOf(t.dims);
    return dims.map((_, i) => { const k = i - (rank - t.dims.length); return k < 0 || t.dims[k] === 1 ? 0 : s[k]; });
  });
  const n = numel(dims);
  const out = new Float64Array(n);
  const idx = new Array<number>(rank).fill(0);
  const off = new Array<number>(ins.length).fill(0);
  const args = new Array<number>(ins.length);
  for (let e = 0; e < n; e++) {
    for (let j = 0; j < ins.length; j++) args[j] = ins[j].data[off[j]];
    out[e] = f(...args);
    for (let i = rank - 1; i >= 0; i--) {
      idx[i]++;
      for (let j = 0; j < ins.length; j++) off[j] += strides[j][i];
      if (idx[i] < dims[i]) break;
      for (let j = 0; j < ins.length; j++) off[j] -= strides[j][i] * dims[i];
      idx[i] = 0;
    }
  }
  return { dtype, dims, data: out };
}

const norm = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);
const ints = (t: Tensor64 | undefined): number[] => (t === undefined ? [] : Array.from(t.data));

/** erf to near double precision: Taylor series for |x| < 3, Lentz continued fraction of erfc beyond. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

function unary(f: (x: number) => number): Kernel {
  return ([x]) => [mapN([x], x.dtype, f, [...x.dims])];
}
function binary(f: (a: number, b: number) => number, outDtype?: ElementType): Kernel {
  return ([a, b]) => [mapN([a, b], outDtype ?? a.dtype, f)];
}

/** Splits dims around `axes` for reductions: out index for each input element. */
function reduce(x: Tensor64, axesIn: readonly number[] | undefined, keep: boolean, init: number, f: (acc: number, v: number) => number, fin?: (acc: number, count: number) => number): Tensor64 {
  const rank = x.dims.length;
  const axes = new Set(axesIn === undefined || axesIn.length === 0 ? x.dims.map((_, i) => i) : axesIn.map((a) => norm(a, rank)));
  const keptDims = x.dims.map((d, i) => (axes.has(i) ? 1 : d));
  const outStrides = stridesOf(keptDims);
  const out = new Float64Array(numel(keptDims)).fill(init);
  const inStrides = stridesOf(x.dims);
  for (let e = 0; e < x.data.length; e++) {
    let o = 0;
    for (let i = 0; i < rank; i++) if (!axes.has(i)) o += Math.floor(e / inStrides[i]) % x.dims[i] * outStrides[i];
    out[o] = f(out[o], x.data[e]);
  }
  const count = x.data.length / Math.max(out.length, 1);
  if (fin) for (let i = 0; i < out.length; i++) out[i] = fin(out[i], count);
  return { dtype: x.dtype, dims: keep ? keptDims : x.dims.filter((_, i) => !axes.has(i)), data: out };
}

function softmaxLike(x: Tensor64, axisIn: number, log: boolean): Tensor64 {
  const axis = norm(axisIn, x.dims.length);
  const n = x.dims[axis];
  const inner = numel(x.dims.slice(axis + 1));
  const outer = numel(x.dims.slice(0, axis));
  const out = new Float64Array(x.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (k: number) => (o * n + k) * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, x.data[at(k)]);
      let s = 0;
      for (let k = 0; k < n; k++) s += Math.exp(x.data[at(k)] - m);
      for (let k = 0; k < n; k++) out[at(k)] = log ? x.data[at(k)] - m - Math.log(s) : Math.exp(x.data[at(k)] - m) / s;
    }
  }
  return { dtype: x.dtype, dims: x.dims, data: out };
}

function transpose(x: Tensor64, perm: readonly number[]): Tensor64 {
  const dims = perm.map((p) => x.dims[p]);
  const inStrides = stridesOf(x.dims);
  const outStrides = stridesOf(dims);
  const out = new Float64Array(x.data.length);
  for (let e = 0; e < out.length; e++) {
    let src = 0;
    for (let i = 0; i < dims.length; i++) src += Math.floor(e / outStrides[i]) % dims[i] * inStrides[perm[i]];
    out[e] = x.data[src];
  }
  return { dtype: x.dtype, dims, data: out };
}

function matmul(a: Tensor64, b: Tensor64): Tensor64 {
  const a2 = a.dims.length === 1 ? { ...a, dims: [1, a.dims[0]] } : a;
  const b2 = b.dims.length === 1 ? { ...b, dims: [b.dims[0], 1] } : b;
  const [m, k] = a2.dims.slice(-2);
  const [k2, n] = b2.dims.slice(-2);
  if (k !== k2) throw new Error(`MatMul inner dims ${k} and ${k2} differ`);
  const batch = broadcastDims([a2.dims.slice(0, -2), b2.dims.slice(0, -2)]);
  const nb = numel(batch);
  const index = (t: Tensor64, bi: number) => {
    const td = t.dims.slice(0, -2);
    const ts = stridesOf(td);
    let o = 0;
    for (let i = 0; i < td.length; i++) {
      const bpos = Math.floor(bi / numel(batch.slice(i + batch.length - td.length + 1))) % batch[i + batch.length - td.length];
      o += (td[i] === 1 ? 0 : bpos) * ts[i];
    }
    return o;
  };
  const out = new Float64Array(nb * m * n);
  for (let bi = 0; bi < nb; bi++) {
    const ao = index(a2, bi) * m * k;
    const bo = index(b2, bi) * k * n;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a2.data[ao + i * k + p] * b2.data[bo + p * n + j];
      out[(bi * m + i) * n + j] = s;
    }
  }
  const dims = [...batch, ...(a.dims.length === 1 ? [] : [m]), ...(b.dims.length === 1 ? [] : [n])];
  return { dtype: a.dtype, dims, data: out };
}

function reshapeDims(x: Tensor64, target: number[]): number[] {
  const out = target.map((t, i) => (t === 0 ? x.dims[i] : t));
  const m = out.indexOf(-1);
  if (m >= 0) out[m] = x.data.length / numel(out.filter((d) => d !== -1));
  if (numel(out) !== x.data.length) throw new Error(`cannot reshape [${x.dims}] to [${target}]`);
  return out;
}

/** Copies the block [starts, starts+dims) of `x` (any step) into a new tensor. */
function sliceCopy(x: Tensor64, starts: number[], steps: number[], dims: number[]): Tensor64 {
  const inStrides = stridesOf(x.dims);
  const outStrides = stridesOf(dims);
  const out = new Float64Array(numel(dims));
  for (let e = 0; e < out.length; e++) {
    let src = 0;
    for (let i = 0; i < dims.length; i++) src += (starts[i] + (Math.floor(e / outStrides[i]) % dims[i]) * steps[i]) * inStrides[i];
    out[e] = x.data[src];
  }
  return { dtype: x.dtype, dims, data: out };
}

function concat(xs: readonly Tensor64[], axisIn: number): Tensor64 {
  const axis = norm(axisIn, xs[0].dims.length);
  const dims = [...xs[0].dims];
  dims[axis] = xs.reduce((s, x) => s + x.dims[axis], 0);
  const outer = numel(dims.slice(0, axis));
  const out = new Float64Array(numel(dims));
  let o = 0;
  for (let i = 0; i < outer; i++) for (const x of xs) {
    const chunk = numel(x.dims.slice(axis));
    out.set(x.data.subarray(i * chunk, (i + 1) * chunk), o);
    o += chunk;
  }
  return { dtype: xs[0].dtype, dims, data: out };
}

function gather(x: Tensor64, idx: Tensor64, axisIn: number): Tensor64 {
  const axis = norm(axisIn, x.dims.length);
  const outer = numel(x.dims.slice(0, axis));
  const inner = numel(x.dims.slice(axis + 1));
  const d = x.dims[axis];
  const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
  const out = new Float64Array(numel(dims));
  let o = 0;
  for (let i = 0; i < outer; i++) for (const raw of idx.data) {
    const j = raw < 0 ? raw + d : raw;
    if (j < 0 || j >= d) throw new Error(`Gather index ${raw} out of range for size ${d}`);
    out.set(x.data.subarray((i * d + j) * inner, (i * d + j + 1) * inner), o);
    o += inner;
  }
  return { dtype: x.dtype, dims, data: out };
}

type Kernel = (ins: Tensor64[], attrs: Attrs, nOutputs: number) => Tensor64[];

export const kernels: Readonly<Record<string, Kernel>> = {
  Add: binary((a, b) => a + b), Sub: binary((a, b) => a - b), Mul: binary((a, b) => a * b), Div: binary((a, b) => a / b),
  Mod: binary((a, b) => ((a % b) + b) % b),
  Pow: binary((a, b) => a ** b),
  Equal: binary((a, b) => +(a === b), 'bool'), Greater: binary((a, b) => +(a > b), 'bool'), Less: binary((a, b) => +(a < b), 'bool'),
  And: binary((a, b) => +(a !== 0 && b !== 0), 'bool'), Or: binary((a, b) => +(a !== 0 || b !== 0), 'bool'),
  Not: unary((x) => +(x === 0)), Identity: unary((x) => x),
  Neg: unary((x) => -x), Exp: unary(Math.exp), Log: unary(Math.log), Sqrt: unary(Math.sqrt), Reciprocal: unary((x) => 1 / x),
  Tanh: unary(Math.tanh), Sigmoid: unary(sigmoid), Erf: unary(erf), Softplus: unary(softplus), Sin: unary(Math.sin), Cos: unary(Math.cos),
  Cast: ([x], attrs) => {
    const to = dtypeFromOnnx(attrInt(attrs, 'to'));
    const f = to === 'bool' ? (v: number) => +(v !== 0) : isFloat(to) ? (v: number) => v : Math.trunc;
    return [mapN([x], to, f, [...x.dims])];
  },
  Where: ([c, x, y]) => [mapN([c, x, y], x.dtype, (ci, xi, yi) => (ci !== 0 ? xi : yi))],
  MatMul: ([a, b]) => [matmul(a, b)],
  Gemm: ([a, b, c], attrs) => {
    const at = attrInt(attrs, 'transA', 0) ? transpose(a, [1, 0]) : a;
    const bt = attrInt(attrs, 'transB', 0) ? transpose(b, [1, 0]) : b;
    const [alpha, beta] = [attrFloat(attrs, 'alpha', 1), attrFloat(attrs, 'beta', 1)];
    const ab = matmul(at, bt);
    return [c === undefined ? mapN([ab], ab.dtype, (v) => alpha * v, [...ab.dims]) : mapN([ab, c], ab.dtype, (v, w) => alpha * v + beta * w, [...ab.dims])];
  },
  Softmax: ([x], attrs) => [softmaxLike(x, attrInt(attrs, 'axis', -1), false)],
  LogSoftmax: ([x], attrs) => [softmaxLike(x, attrInt(attrs, 'axis', -1), true)],
  ReduceSum: ([x, axes], attrs) => [reduce(x, axes && ints(axes), attrInt(attrs, 'keepdims', 1) === 1, 0, (a, v) => a + v)],
  ReduceMean: ([x], attrs) => [reduce(x, attrInts(attrs, 'axes'), attrInt(attrs, 'keepdims', 1) === 1, 0, (a, v) => a + v, (a, c) => a / c)],
  ReduceMax: ([x], attrs) => [reduce(x, attrInts(attrs, 'axes'), attrInt(attrs, 'keepdims', 1) === 1, -Infinity, Math.max)],
  Reshape: ([x, s]) => [{ ...x, dims: reshapeDims(x, ints(s)) }],
  Flatten: ([x], attrs) => {
    const a = norm(attrInt(attrs, 'axis', 1), x.dims.length);
    return [{ ...x, dims: [numel(x.dims.slice(0, a)), numel(x.dims.slice(a))] }];
  },
  Transpose: ([x], attrs) => [transpose(x, attrInts(attrs, 'perm') ?? x.dims.map((_, i) => x.dims.length - 1 - i))],
  Squeeze: ([x, a]) => {
    const axes = a === undefined ? x.dims.flatMap((d, i) => (d === 1 ? [i] : [])) : ints(a).map((v) => norm(v, x.dims.length));
    return [{ ...x, dims: x.dims.filter((_, i) => !axes.includes(i)) }];
  },
  Unsqueeze: ([x, a]) => {
    const rank = x.dims.length + a.data.length;
    const axes = ints(a).map((v) => norm(v, rank));
    let k = 0;
    return [{ ...x, dims: Array.from({ length: rank }, (_, i) => (axes.includes(i) ? 1 : x.dims[k++])) }];
  },
  Expand: ([x, s]) => [mapN([x], x.dtype, (v) => v, broadcastDims([x.dims, ints(s)]))],
  Concat: (xs, attrs) => [concat(xs, attrInt(attrs, 'axis'))],
  Split: ([x, s], attrs, nOut) => {
    const axis = norm(attrInt(attrs, 'axis', 0), x.dims.length);
    const sizes = s === undefined ? Array.from({ length: nOut }, () => x.dims[axis] / nOut) : ints(s);
    let at = 0;
    return sizes.map((size) => {
      const starts = x.dims.map((_, i) => (i === axis ? at : 0));
      at += size;
      return sliceCopy(x, starts, x.dims.map(() => 1), x.dims.map((d, i) => (i === axis ? size : d)));
    });
  },
  Slice: ([x, st, en, ax, sp]) => {
    const starts = x.dims.map(() => 0);
    const steps = x.dims.map(() => 1);
    const dims = [...x.dims];
    const axes = ax === undefined ? ints(st).map((_, i) => i) : ints(ax);
    axes.forEach((axRaw, i) => {
      const a = norm(axRaw, x.dims.length);
      const d = x.dims[a];
      const step = sp === undefined ? 1 : sp.data[i];
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
      const s = clamp(st.data[i], step > 0 ? 0 : -1, step > 0 ? d : d - 1);
      const e = clamp(en.data[i], step > 0 ? 0 : -1, step > 0 ? d : d - 1);
      starts[a] = s;
      steps[a] = step;
      dims[a] = Math.max(0, Math.ceil((e - s) / step));
    });
    return [sliceCopy(x, starts, steps, dims)];
  },
  Gather: ([x, idx], attrs) => [gather(x, idx, attrInt(attrs, 'axis', 0))],
  ScatterElements: ([x, idx, updates], attrs) => {
    const reduction = attrs.reduction?.kind === 'string' ? attrs.reduction.value : 'none';
    if (reduction !== 'none' && reduction !== 'add') throw new Error(`ScatterElements reduction '${reduction}' is not supported`);
    const axis = norm(attrInt(attrs, 'axis', 0), x.dims.length);
    const data = Float64Array.from(x.data);
    const coords = new Array<number>(idx.dims.length).fill(0);
    for (let e = 0; e < idx.data.length; e++) {
      // coords: the position of element e in indices / updates, last axis fastest.
      let at = 0;
      for (let a = 0; a < x.dims.length; a++) {
        const raw = idx.data[e];
        const j = a === axis ? (raw < 0 ? raw + x.dims[a] : raw) : coords[a];
        if (a === axis && (j < 0 || j >= x.dims[a])) throw new Error(`ScatterElements index ${raw} out of range for size ${x.dims[a]}`);
        at = at * x.dims[a] + j;
      }
      data[at] = (reduction === 'add' ? data[at] : 0) + updates.data[e];
      for (let a = coords.length - 1; a >= 0 && ++coords[a] === idx.dims[a]; a--) coords[a] = 0;
    }
    return [{ dtype: x.dtype, dims: [...x.dims], data }];
  },
  OneHot: ([idx, depthT, values], attrs) => {
    const depth = depthT.data[0];
    const rank = idx.dims.length + 1;
    const axis = norm(attrInt(attrs, 'axis', -1), rank);
    const dims = [...idx.dims];
    dims.splice(axis, 0, depth);
    const inner = numel(idx.dims.slice(axis));
    const out = new Float64Array(numel(dims)).fill(values.data[0]);
    idx.data.forEach((raw, e) => {
      const j = raw < 0 ? raw + depth : raw;
      if (j < 0 || j >= depth) return;
      const o = Math.floor(e / inner);
      out[(o * depth + j) * inner + (e % inner)] = values.data[1];
    });
    return [{ dtype: values.dtype, dims, data: out }];
  },
  Shape: ([x], attrs) => {
    const r = x.dims.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    const d = x.dims.slice(clamp(attrInt(attrs, 'start', 0)), clamp(attrInt(attrs, 'end', r)));
    return [tensor64('int64', [d.length], d)];
  },
  Size: ([x]) => [tensor64('int64', [], [x.data.length])],
  ConstantOfShape: ([s], attrs) => {
    const v = attrs.value;
    const t = v?.kind === 'tensor' ? fromTensorData(v.value) : tensor64('float32', [1], [0]);
    const dims = ints(s);
    return [{ dtype: t.dtype, dims, data: new Float64Array(numel(dims)).fill(t.data[0]) }];
  },
  Range: ([s, l, d]) => {
    const n = Math.max(0, Math.ceil((l.data[0] - s.data[0]) / d.data[0]));
    return [tensor64(s.dtype, [n], Array.from({ length: n }, (_, i) => s.data[0] + i * d.data[0]))];
  },
  Pad: ([x, p, c], attrs) => {
    if (attrs.mode?.kind === 'string' && attrs.mode.value !== 'constant') throw new Error('Pad: only constant mode');
    const pads = ints(p);
    const r = x.dims.length;
    const dims = x.dims.map((d, i) => d + pads[i] + pads[i + r]);
    const out = new Float64Array(numel(dims)).fill(c === undefined ? 0 : c.data[0]);
    const inStrides = stridesOf(x.dims);
    const outStrides = stridesOf(dims);
    for (let e = 0; e < x.data.length; e++) {
      let o = 0;
      let inside = true;
      for (let i = 0; i < r; i++) {
        const j = Math.floor(e / inStrides[i]) % x.dims[i] + pads[i];
        if (j < 0 || j >= dims[i]) inside = false;
        o += j * outStrides[i];
      }
      if (inside) out[o] = x.data[e];
    }
    return [{ dtype: x.dtype, dims, data: out }];
  },
};

export type Feeds = Readonly<Record<string, Tensor64>>;

const roundedToHalf = (t: Tensor64): Tensor64 => ({ ...t, data: Float64Array.from(f16BitsToFloat32(float32ToF16Bits(Float32Array.from(t.data)))) });

/** Runs `graph` in float64. Feeds override initializers of the same name; returns the requested values (default: the graph outputs). */
export function runReference(graph: Graph, feeds: Feeds, wanted: readonly string[] = graph.outputs.map((o) => o.name)): Record<string, Tensor64> {
  const env = new Map<string, Tensor64>();
  for (const [name, t] of graph.initializers) env.set(name, fromTensorData(t));
  for (const inp of graph.inputs) {
    const t = feeds[inp.name];
    if (t === undefined) {
      if (!env.has(inp.name)) throw new Error(`graph '${graph.name}': no feed for input '${inp.name}'`);
      continue;
    }
    const bad = t.dims.length !== inp.shape.length || inp.shape.some((d, i) => typeof d === 'number' && d !== t.dims[i]);
    if (bad) throw new Error(`graph '${graph.name}': input '${inp.name}' expects [${inp.shape}], got [${t.dims}]`);
  }
  for (const [name, t] of Object.entries(feeds)) env.set(name, t);
  for (const node of graph.nodes) {
    const kernel = kernels[node.opType];
    if (kernel === undefined) throw new Error(`reference interpreter: no kernel for ${node.opType} (node ${node.name})`);
    const ins = node.inputs.map((n) => {
      if (n === '') return undefined;
      const t = env.get(n);
      if (t === undefined) throw new Error(`node ${node.name}: input '${n}' has not been computed`);
      return t;
    });
    let outs: Tensor64[];
    try {
      outs = kernel(ins as Tensor64[], node.attrs, node.outputs.length);
    } catch (e) {
      throw new Error(`node ${node.name} (${node.opType}): ${(e as Error).message}`, { cause: e });
    }
    node.outputs.forEach((n, i) => env.set(n, graph.values.get(n)?.dtype === 'float16' ? roundedToHalf(outs[i]) : outs[i]));
  }
  return Object.fromEntries(wanted.map((n) => {
    const t = env.get(n);
    if (t === undefined) throw new Error(`graph '${graph.name}' has no value '${n}'`);
    return [n, t];
  }));
}

