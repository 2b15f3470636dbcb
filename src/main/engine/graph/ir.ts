// The graph IR the builder produces, the autodiff transforms, the serialiser writes as ONNX and the
// reference interpreter runs. Ops and their inputs/attributes are exactly ONNX's at OPSET, so the
// serialiser is a plain translation; constant inputs (axes, shapes, weights) are initializers,
// which is also where build-time shape inference reads them.
import type { ElementType, TypedData } from './element-type';

/** The one ONNX opset every graph is written against (ai.onnx domain). */
export const OPSET = 17;
/** IR version 8 is what onnx 1.12 (opset 17) writes; onnx-proto encodes it. */
export const IR_VERSION = 8;

/** A static size, or a symbolic name such as 'batch' or 'seq' resolved when the graph runs. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export interface Value {
  readonly name: string;
  readonly dtype: ElementType;
  readonly shape: Shape;
}

export interface TensorData {
  readonly dtype: ElementType;
  readonly dims: readonly number[];
  readonly data: TypedData;
}

export type Attr =
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'tensor'; readonly value: TensorData };

export type Attrs = Readonly<Record<string, Attr>>;

export interface Node {
  /** A path such as `/model/layers.0/attn/q_proj/MatMul`, unique in the graph. */
  readonly name: string;
  readonly opType: string;
  /** Value names; '' marks an omitted optional input, as in ONNX. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs: Attrs;
}

export interface Graph {
  readonly name: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  /** Weights and op constants; graph inputs of the same name override them when fed. */
  readonly initializers: ReadonlyMap<string, TensorData>;
  /** In topological order. */
  readonly nodes: readonly Node[];
  /** Every value by name: inputs, initializers and node outputs. */
  readonly values: ReadonlyMap<string, Value>;
}

export const attrInt = (attrs: Attrs, name: string, fallback?: number): number => {
  const a = attrs[name];
  if (a === undefined) {
    if (fallback === undefined) throw new Error(`missing int attribute '${name}'`);
    return fallback;
  }
  if (a.kind !== 'int') throw new Error(`attribute '${name}' is ${a.kind}, expected int`);
  return a.value;
};

export const attrInts = (attrs: Attrs, name: string): readonly number[] | undefined => {
  const a = attrs[name];
  if (a === undefined) return undefined;
  if (a.kind !== 'ints') throw new Error(`attribute '${name}' is ${a.kind}, expected ints`);
  return a.value;
};

export const attrFloat = (attrs: Attrs, name: string, fallback: number): number => {
  const a = attrs[name];
  if (a === undefined) return fallback;
  if (a.kind !== 'float') throw new Error(`attribute '${name}' is ${a.kind}, expected float`);
  return a.value;
};

export const tensorNumbers = (t: TensorData): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

export const numel = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

export const shapeToString = (s: Shape): string => `[${s.join(', ')}]`;
