// Runs builder graphs in onnxruntime-node (plain sessions, CPU) on float64 reference feeds cast to
// each input's declared dtype, so specs and benches can compare ORT with the reference interpreter.
import * as ort from 'onnxruntime-node';
import type { ElementType } from '../graph/element-type';
import type { Graph } from '../graph/ir';
import type { Feeds, Tensor64 } from '../graph/reference';

const ortTypes: Partial<Record<ElementType, ort.Tensor.Type>> = {
  float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'bool', uint8: 'uint8', int8: 'int8',
};

export function toOrtTensor(dtype: ElementType, t: Tensor64): ort.Tensor {
  const type = ortTypes[dtype];
  if (type === undefined) throw new Error(`toOrtTensor: ${dtype} is not supported here`);
  const dims = [...t.dims];
  switch (type) {
    case 'int64': return new ort.Tensor(type, BigInt64Array.from(t.data, (v) => BigInt(v)), dims);
    case 'int32': return new ort.Tensor(type, Int32Array.from(t.data), dims);
    case 'bool': case 'uint8': return new ort.Tensor(type, Uint8Array.from(t.data), dims);
    case 'int8': return new ort.Tensor(type, Int8Array.from(t.data), dims);
    case 'float64': return new ort.Tensor(type, Float64Array.from(t.data), dims);
    default: return new ort.Tensor('float32', Float32Array.from(t.data), dims);
  }
}

export function ortFeeds(graph: Graph, feeds: Feeds): Record<string, ort.Tensor> {
  return Object.fromEntries(graph.inputs.filter((i) => feeds[i.name] !== undefined).map((i) => [i.name, toOrtTensor(i.dtype, feeds[i.name])]));
}

/** Runs a session on reference feeds; every output comes back as plain numbers. */
export async function runOrt(session: ort.InferenceSession, graph: Graph, feeds: Feeds): Promise<Record<string, { dims: readonly number[]; data: Float64Array }>> {
  const out = await session.run(ortFeeds(graph, feeds));
  return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { dims: t.dims, data: Float64Array.from(t.data as ArrayLike<number | bigint>, Number) }]));
}

export const createOrtSession = (model: Uint8Array | string): Promise<ort.InferenceSession> =>
  typeof model === 'string'
    ? ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', logSeverityLevel: 3 })
    : ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', logSeverityLevel: 3 });
