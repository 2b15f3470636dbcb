// Serialises builder graphs to ONNX ModelProto bytes (onnx-proto) at OPSET, with weights inline;
// above a size threshold, in a side file next to the model (external data: protobuf caps a message
// at 2 GB, and ONNX Runtime resolves the side file relative to the model's path); or, for a session
// made in this process, left out of the bytes as graph inputs the session feeds from the graph's own
// arrays on every run (serializeBound: how sessions over one model share one copy of its weights,
// see session.ts).
import fs from 'node:fs';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';
import { onnxDataType } from './element-type';
import { IR_VERSION, numel, OPSET, type Attr, type Graph, type TensorData, type Value } from './ir';

const { onnx } = onnxProto;

const bytesOf = (t: TensorData): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

function tensorProto(name: string, t: TensorData, external?: { location: string; offset: number }): P.ITensorProto {
  const base = { name, dataType: onnxDataType[t.dtype], dims: [...t.dims] };
  if (external === undefined) return { ...base, rawData: bytesOf(t) };
  return {
    ...base,
    dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    externalData: [
      { key: 'location', value: external.location },
      { key: 'offset', value: String(external.offset) },
      { key: 'length', value: String(t.data.byteLength) },
    ],
  };
}

const T = onnx.AttributeProto.AttributeType;
function attributeProto(name: string, a: Attr): P.IAttributeProto {
  switch (a.kind) {
    case 'int': return { name, type: T.INT, i: a.value };
    case 'ints': return { name, type: T.INTS, ints: [...a.value] };
    case 'float': return { name, type: T.FLOAT, f: a.value };
    case 'floats': return { name, type: T.FLOATS, floats: [...a.value] };
    case 'string': return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'tensor': return { name, type: T.TENSOR, t: tensorProto('', a.value) };
  }
}

const valueInfo = (v: Value): P.IValueInfoProto => ({
  name: v.name,
  type: {
    tensorType: {
      elemType: onnxDataType[v.dtype],
      shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  },
});

export interface ExternalPlan {
  /** Side-file name written into the model, relative to the model file. */
  location: string;
  /** Initializers of at least this many bytes go to the side file. */
  threshold: number;
}

/**
 * The ModelProto of `graph`; with `external`, returns where each large initializer must be written.
 * Initializers named in `asInputs` are declared as graph inputs of their dtype and dims instead.
 */
export function toModelProto(
  graph: Graph, external?: ExternalPlan, asInputs: ReadonlySet<string> = new Set(),
): { model: P.IModelProto; placed: { tensor: TensorData; offset: number }[] } {
  const placed: { tensor: TensorData; offset: number }[] = [];
  let offset = 0;
  const kept = [...graph.initializers].filter(([name]) => !asInputs.has(name));
  const lifted = [...asInputs].map((name) => {
    const t = graph.initializers.get(name);
    if (t === undefined) throw new Error(`graph '${graph.name}' has no initializer '${name}' to take as an input`);
    return valueInfo({ name, dtype: t.dtype, shape: t.dims });
  });
  const initializer = kept.map(([name, t]) => {
    if (external === undefined || t.data.byteLength < external.threshold) return tensorProto(name, t);
    offset = Math.ceil(offset / 4096) * 4096; // page-aligned so ORT can map the file
    placed.push({ tensor: t, offset });
    const proto = tensorProto(name, t, { location: external.location, offset });
    offset += t.data.byteLength;
    return proto;
  });
  const model: P.IModelProto = {
    irVersion: IR_VERSION,
    producerName: 'isr-studio',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: {
      name: graph.name,
      input: [...graph.inputs.map(valueInfo), ...lifted],
      output: graph.outputs.map(valueInfo),
      initializer,
      node: graph.nodes.map((n) => ({
        name: n.name, opType: n.opType, domain: '', input: [...n.inputs], output: [...n.outputs],
        attribute: Object.entries(n.attrs).map(([k, a]) => attributeProto(k, a)),
      })),
    },
  };
  return { model, placed };
}

/** Model bytes with every weight inline (under 2 GB of weights). */
export function serialize(graph: Graph): Uint8Array {
  return onnx.ModelProto.encode(toModelProto(graph).model).finish();
}

/** A weight that serializeBound left out of the model bytes: a graph input fed from `tensor.data`. */
export interface BoundWeight {
  readonly name: string;
  readonly tensor: TensorData;
}

/** The weights serializeBound binds: float32 matrices (rank >= 2) of at least `minBytes`, not already graph inputs. */
export function largeWeightNames(graph: Graph, minBytes: number): string[] {
  const inputs = new Set(graph.inputs.map((v) => v.name));
  return [...graph.initializers]
    .filter(([name, t]) => t.dtype === 'float32' && t.dims.length >= 2 && 4 * numel(t.dims) >= minBytes && !inputs.has(name))
    .map(([name]) => name);
}

/**
 * Model bytes in which the weights largeWeightNames picks are graph inputs rather than initializers,
 * and those weights, to be fed on every run from their own arrays. ONNX Runtime's CPU provider reads
 * a fed tensor where it lies, so every session fed the same array shares that one copy, where an
 * initializer is copied into each session: inline, and as in-memory external data too (whose buffers
 * onnxruntime-node moreover keeps alive until the session is released), or mapped once per session
 * from an external-data file (docs/engine.md, memory). Vectors and op constants stay inline, so the fusions
 * that match on them still apply.
 */
export function serializeBound(graph: Graph, minBytes: number): { model: Uint8Array; bound: BoundWeight[] } {
  const names = largeWeightNames(graph, minBytes);
  const model = onnx.ModelProto.encode(toModelProto(graph, undefined, new Set(names)).model).finish();
  return { model, bound: names.map((name) => ({ name, tensor: graph.initializers.get(name)! })) };
}

/**
 * Writes `file` and, when some initializer has at least `externalThreshold` bytes, `<file>.data`
 * beside it, tensor by tensor (never one buffer of all weights). Returns the paths written.
 */
export function saveModel(graph: Graph, file: string, options: { externalThreshold?: number } = {}): { model: string; data?: string } {
  const location = `${path.basename(file)}.data`;
  const plan = options.externalThreshold === undefined ? undefined : { location, threshold: options.externalThreshold };
  const { model, placed } = toModelProto(graph, plan);
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  if (placed.length === 0) return { model: file };
  const dataPath = path.join(path.dirname(file), location);
  const fd = fs.openSync(dataPath, 'w');
  try {
    for (const { tensor, offset } of placed) fs.writeSync(fd, bytesOf(tensor), 0, tensor.data.byteLength, offset);
  } finally {
    fs.closeSync(fd);
  }
  return { model: file, data: dataPath };
}
