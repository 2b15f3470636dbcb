// A typed builder for ONNX graphs: inputs, weights, ops as methods that return symbolic values with
// build-time dtype and shape, readable node names from a scope stack
// (`/model/layers.0/attn/q_proj/MatMul`), outputs. Every op is an ONNX op at OPSET with its exact
// inputs and attributes; constant inputs (axes, shapes) become deduplicated int64 initializers.
import { onnxDataType, typedFrom, type ElementType, type TypedData } from './element-type';
import { type Attr, type Attrs, type Graph, type Node, type Shape, type TensorData, type Value, tensorNumbers } from './ir';
import { inferRules } from './shape';

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  floats: (value: readonly number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
  tensor: (value: TensorData): Attr => ({ kind: 'tensor', value }),
};

/** A value, or a plain number that becomes a scalar constant of the other operand's dtype. */
export type Operand = Value | number;

export interface NodeOptions {
  /** Number of outputs (Split). Default 1. */
  outputs?: number;
  /** Output shapes when the inputs are runtime values inference cannot see through. */
  outShapes?: readonly Shape[];
  /** Exact output value names (graph outputs), instead of `<node>_output_<i>`. */
  outNames?: readonly string[];
}

export class GraphBuilder {
  private readonly inputs: Value[] = [];
  private readonly outputs: Value[] = [];
  private readonly initializers = new Map<string, TensorData>();
  private readonly nodes: Node[] = [];
  private readonly values = new Map<string, Value>();
  private readonly nodeNames = new Set<string>();
  private readonly constCache = new Map<string, Value>();
  private readonly scopes: string[] = [];
  private freshCount = 0;
  private constCount = 0;

  constructor(readonly name = 'graph') {}

  /** A builder that continues an existing graph (the autodiff appends its backward pass this way). */
  static extend(g: Graph, name = g.name): GraphBuilder {
    const b = new GraphBuilder(name);
    b.inputs.push(...g.inputs);
    b.outputs.push(...g.outputs);
    for (const [k, t] of g.initializers) {
      b.initializers.set(k, t);
      if (k.startsWith('const_') && t.data.length <= 64) b.constCache.set(`${t.dtype}[${t.dims}]${tensorNumbers(t).join(',')}`, g.values.get(k)!);
    }
    for (const n of g.nodes) { b.nodes.push(n); b.nodeNames.add(n.name); }
    for (const [k, v] of g.values) b.values.set(k, v);
    b.freshCount = g.values.size;
    return b;
  }

  build(): Graph {
    return {
      name: this.name, inputs: [...this.inputs], outputs: [...this.outputs], initializers: new Map(this.initializers),
      nodes: [...this.nodes], values: new Map(this.values),
    };
  }

  /** Runs `fn` with `name` appended to the node-name path. */
  scope<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try { return fn(); } finally { this.scopes.pop(); }
  }

  value(name: string): Value {
    const v = this.values.get(name);
    if (v === undefined) throw new Error(`graph '${this.name}' has no value '${name}'`);
    return v;
  }

  /** The numbers of a constant value, or undefined when it is computed at runtime. */
  constantValues(v: Value): number[] | undefined {
    const t = this.initializers.get(v.name);
    return t === undefined || this.inputs.some((i) => i.name === v.name) ? undefined : tensorNumbers(t);
  }

  input(name: string, dtype: ElementType, shape: Shape): Value {
    return this.register({ name, dtype, shape }, () => this.inputs.push({ name, dtype, shape }));
  }

  /** A named weight; `data` is kept by reference. */
  initializer(name: string, dtype: ElementType, dims: readonly number[], data: TypedData | readonly number[]): Value {
    const typed = ArrayBuffer.isView(data) ? data : typedFrom(dtype, data);
    const n = dims.reduce((a, b) => a * b, 1);
    if (typed.length !== n) throw new Error(`initializer '${name}': ${typed.length} elements for dims [${dims}] (${n})`);
    return this.register({ name, dtype, shape: dims }, () => this.initializers.set(name, { dtype, dims, data: typed }));
  }

  /** An anonymous constant; small ones with equal contents are shared. */
  constant(dtype: ElementType, dims: readonly number[], data: readonly number[]): Value {
    const key = data.length <= 64 ? `${dtype}[${dims}]${data.join(',')}` : undefined;
    const hit = key === undefined ? undefined : this.constCache.get(key);
    if (hit !== undefined) return hit;
    let name = `const_${this.constCount++}_${dtype}`;
    while (this.values.has(name)) name = `const_${this.constCount++}_${dtype}`;
    const v = this.initializer(name, dtype, dims, data);
    if (key !== undefined) this.constCache.set(key, v);
    return v;
  }

  scalar(value: number, dtype: ElementType = 'float32'): Value { return this.constant(dtype, [], [value]); }
  /** A 1-D int64 constant (axes, shapes, starts). */
  ints(values: readonly number[]): Value { return this.constant('int64', [values.length], values); }

  /** Marks `v` as a graph output, renamed to `name` through an Identity if given. */
  output(v: Value, name?: string): Value {
    const out = name === undefined || name === v.name ? v : this.node('Identity', [v], {}, { outNames: [name] })[0];
    this.outputs.push(out);
    return out;
  }

  /** Adds one node; dtype and shape of its outputs come from shape.ts unless `outShapes` is given. */
  node(opType: string, inputs: readonly (Value | undefined)[], attrs: Attrs = {}, opts: NodeOptions = {}): Value[] {
    const infer = inferRules[opType];
    if (infer === undefined) throw new Error(`the builder has no op '${opType}'`);
    const path = `/${[...this.scopes, opType].join('/')}`;
    let name = path;
    for (let k = 1; this.nodeNames.has(name); k++) name = `${path}_${k}`;
    for (const v of inputs) if (v !== undefined && this.values.get(v.name) !== v && !this.sameValue(v)) throw new Error(`node ${name}: input '${v.name}' is not a value of graph '${this.name}'`);
    const nOut = opts.outputs ?? 1;
    let inferred;
    try {
      inferred = infer(inputs, attrs, {
        konst: (i) => (inputs[i] === undefined ? undefined : this.constantValues(inputs[i]!)),
        fresh: () => `${opType.toLowerCase()}_dim_${this.freshCount++}`,
        nOutputs: nOut,
      });
    } catch (e) {
      throw new Error(`node ${name} (${opType}): ${(e as Error).message}`, { cause: e });
    }
    const outs = inferred.map((o, i) => ({
      name: opts.outNames?.[i] ?? `${name}_output_${i}`, dtype: o.dtype, shape: opts.outShapes?.[i] ?? o.shape,
    }));
    for (const o of outs) this.register(o, () => undefined);
    this.nodeNames.add(name);
    this.nodes.push({ name, opType, inputs: inputs.map((v) => v?.name ?? ''), outputs: outs.map((o) => o.name), attrs });
    return outs;
  }

  private sameValue(v: Value): boolean {
    const w = this.values.get(v.name);
    return w !== undefined && w.dtype === v.dtype && w.shape.length === v.shape.length;
  }

  private register(v: Value, add: () => void): Value {
    if (this.values.has(v.name)) throw new Error(`graph '${this.name}' already has a value named '${v.name}'`);
    this.values.set(v.name, v);
    add();
    return v;
  }

  private one(opType: string, inputs: readonly (Value | undefined)[], attrs: Attrs = {}, outShape?: Shape): Value {
    return this.node(opType, inputs, attrs, outShape === undefined ? {} : { outShapes: [outShape] })[0];
  }

  private pair(a: Operand, b: Operand): [Value, Value] {
    if (typeof a === 'number' && typeof b === 'number') throw new Error('at least one operand must be a value');
    return [typeof a === 'number' ? this.scalar(a, (b as Value).dtype) : a, typeof b === 'number' ? this.scalar(b, (a as Value).dtype) : b];
  }

  // Elementwise, with numpy broadcasting.
  add(a: Operand, b: Operand): Value { return this.one('Add', this.pair(a, b)); }
  sub(a: Operand, b: Operand): Value { return this.one('Sub', this.pair(a, b)); }
  mul(a: Operand, b: Operand): Value { return this.one('Mul', this.pair(a, b)); }
  div(a: Operand, b: Operand): Value { return this.one('Div', this.pair(a, b)); }
  pow(a: Value, exponent: Operand): Value { return this.one('Pow', this.pair(a, exponent)); }
  equal(a: Operand, b: Operand): Value { return this.one('Equal', this.pair(a, b)); }
  greater(a: Operand, b: Operand): Value { return this.one('Greater', this.pair(a, b)); }
  less(a: Operand, b: Operand): Value { return this.one('Less', this.pair(a, b)); }
  /** Integer remainder with the divisor's sign (ONNX Mod, fmod 0). */
  mod(a: Operand, b: Operand): Value { return this.one('Mod', this.pair(a, b)); }
  and(a: Value, b: Value): Value { return this.one('And', [a, b]); }
  or(a: Value, b: Value): Value { return this.one('Or', [a, b]); }
  not(a: Value): Value { return this.one('Not', [a]); }
  where(cond: Value, x: Operand, y: Operand): Value { return this.one('Where', [cond, ...this.pair(x, y)]); }
  neg(x: Value): Value { return this.one('Neg', [x]); }
  exp(x: Value): Value { return this.one('Exp', [x]); }
  log(x: Value): Value { return this.one('Log', [x]); }
  sqrt(x: Value): Value { return this.one('Sqrt', [x]); }
  reciprocal(x: Value): Value { return this.one('Reciprocal', [x]); }
  tanh(x: Value): Value { return this.one('Tanh', [x]); }
  sigmoid(x: Value): Value { return this.one('Sigmoid', [x]); }
  erf(x: Value): Value { return this.one('Erf', [x]); }
  softplus(x: Value): Value { return this.one('Softplus', [x]); }
  sin(x: Value): Value { return this.one('Sin', [x]); }
  cos(x: Value): Value { return this.one('Cos', [x]); }
  identity(x: Value): Value { return this.one('Identity', [x]); }
  cast(x: Value, to: ElementType): Value { return this.one('Cast', [x], { to: attr.int(onnxDataType[to]) }); }

  matmul(a: Value, b: Value): Value { return this.one('MatMul', [a, b]); }
  /** alpha * op(a) @ op(b) + beta * c, 2-D only (op transposes when transA/transB). */
  gemm(a: Value, b: Value, c?: Value, o: { alpha?: number; beta?: number; transA?: boolean; transB?: boolean } = {}): Value {
    return this.one('Gemm', c === undefined ? [a, b] : [a, b, c], {
      alpha: attr.float(o.alpha ?? 1), beta: attr.float(o.beta ?? 1), transA: attr.int(o.transA ? 1 : 0), transB: attr.int(o.transB ? 1 : 0),
    });
  }
  softmax(x: Value, axis = -1): Value { return this.one('Softmax', [x], { axis: attr.int(axis) }); }
  logSoftmax(x: Value, axis = -1): Value { return this.one('LogSoftmax', [x], { axis: attr.int(axis) }); }

  /** Reduces over `axes` (all when omitted). ReduceSum takes axes as an input at opset 13+, Mean/Max as an attribute until 18. */
  reduceSum(x: Value, axes?: readonly number[], keepdims = true): Value {
    return this.one('ReduceSum', axes === undefined ? [x] : [x, this.ints(axes)], { keepdims: attr.int(keepdims ? 1 : 0) });
  }
  reduceMean(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduceAttr('ReduceMean', x, axes, keepdims); }
  reduceMax(x: Value, axes?: readonly number[], keepdims = true): Value { return this.reduceAttr('ReduceMax', x, axes, keepdims); }
  private reduceAttr(op: string, x: Value, axes: readonly number[] | undefined, keepdims: boolean): Value {
    return this.one(op, [x], { keepdims: attr.int(keepdims ? 1 : 0), ...(axes === undefined ? {} : { axes: attr.ints(axes) }) });
  }

  /** `shape` as numbers (0 copies a dim, -1 infers one) or a runtime int64 value (then give `outShape`). */
  reshape(x: Value, shape: readonly number[] | Value, outShape?: Shape): Value {
    return this.one('Reshape', [x, Array.isArray(shape) ? this.ints(shape) : (shape as Value)], {}, outShape);
  }
  transpose(x: Value, perm: readonly number[]): Value { return this.one('Transpose', [x], { perm: attr.ints(perm) }); }
  squeeze(x: Value, axes: readonly number[]): Value { return this.one('Squeeze', [x, this.ints(axes)]); }
  unsqueeze(x: Value, axes: readonly number[]): Value { return this.one('Unsqueeze', [x, this.ints(axes)]); }
  expand(x: Value, shape: readonly number[] | Value, outShape?: Shape): Value {
    return this.one('Expand', [x, Array.isArray(shape) ? this.ints(shape) : (shape as Value)], {}, outShape);
  }
  concat(xs: readonly Value[], axis: number): Value { return this.one('Concat', xs, { axis: attr.int(axis) }); }
  /** Splits into the given sizes, or into `sizes` equal parts when a number. */
  split(x: Value, sizes: readonly number[] | number | Value, axis = 0, outShapes?: readonly Shape[]): Value[] {
    const n = typeof sizes === 'number' ? sizes : Array.isArray(sizes) ? sizes.length : outShapes?.length;
    if (n === undefined) throw new Error('split with runtime sizes needs outShapes');
    const sizeInput = typeof sizes === 'number' ? undefined : Array.isArray(sizes) ? this.ints(sizes) : (sizes as Value);
    return this.node('Split', sizeInput === undefined ? [x] : [x, sizeInput], { axis: attr.int(axis) }, { outputs: n, ...(outShapes ? { outShapes } : {}) });
  }
  slice(x: Value, starts: readonly number[], ends: readonly number[], axes?: readonly number[], steps?: readonly number[]): Value {
    const ins = [x, this.ints(starts), this.ints(ends)];
    if (axes !== undefined || steps !== undefined) ins.push(this.ints(axes ?? starts.map((_, i) => i)));
    if (steps !== undefined) ins.push(this.ints(steps));
    return this.one('Slice', ins);
  }
  gather(x: Value, indices: Value, axis = 0): Value { return this.one('Gather', [x, indices], { axis: attr.int(axis) }); }
  /** `data` with each element of `updates` written to (or, with 'add', summed into) the place its own position names,
   *  but along `axis` the one `indices` (of updates' shape) gives. */
  scatterElements(data: Value, indices: Value, updates: Value, axis = 0, reduction: 'none' | 'add' = 'none'): Value {
    return this.one('ScatterElements', [data, indices, updates], { axis: attr.int(axis), reduction: attr.string(reduction) });
  }
  /** One-hot rows of `depth` along the last axis, `off`/`on` of `dtype`. */
  oneHot(indices: Value, depth: number | Value, dtype: ElementType = 'float32', off = 0, on = 1): Value {
    const d = typeof depth === 'number' ? this.ints([depth]) : depth;
    return this.one('OneHot', [indices, d, this.constant(dtype, [2], [off, on])], { axis: attr.int(-1) });
  }
  shape(x: Value, start?: number, end?: number): Value {
    return this.one('Shape', [x], { ...(start === undefined ? {} : { start: attr.int(start) }), ...(end === undefined ? {} : { end: attr.int(end) }) });
  }
  size(x: Value): Value { return this.one('Size', [x]); }
  constantOfShape(shape: Value, value: number, dtype: ElementType = 'float32', outShape?: Shape): Value {
    return this.one('ConstantOfShape', [shape], { value: attr.tensor({ dtype, dims: [1], data: typedFrom(dtype, [value]) }) }, outShape);
  }
  range(start: Value, limit: Value, delta: Value): Value { return this.one('Range', [start, limit, delta]); }
  flatten(x: Value, axis = 1): Value { return this.one('Flatten', [x], { axis: attr.int(axis) }); }
  /** Constant padding; `pads` is [begin_0.., end_0..] as in ONNX. */
  pad(x: Value, pads: readonly number[] | Value, outShape?: Shape): Value {
    return this.one('Pad', [x, Array.isArray(pads) ? this.ints(pads) : (pads as Value)], { mode: attr.string('constant') }, outShape);
  }
}

