// Mixed precision for accelerators: a graph's float32 work moved to float16 except where the caller
// keeps it in float32 (norm statistics, position angles, masks and attention, as transformers upcasts
// them), with casts where the two meet. The graph's inputs and outputs keep their float32 types, so
// the host side of a session does not change. On GPUs float16 halves the bytes a product reads and
// runs it on tensor cores; on CPU ONNX Runtime mostly casts back to float32, so the engine uses it
// only where the device is an accelerator (engine-settings.ts).
import type { Attrs, Graph, Node, TensorData, Value } from './ir';
import { onnxDataType } from './element-type';
import { float32ToF16Bits } from './half-float';

/** The largest finite half-precision value. */
export const FLOAT16_MAX = 65504;

/**
 * Float32 values narrowed to half precision, finite ones beyond its range held at ±65504 rather than
 * turned into infinities: a mask's -1e9 must stay a large finite negative, or a row with every key
 * masked would give softmax NaN where float32 gives a uniform row.
 */
export function narrowSaturating(values: Float32Array): Uint16Array {
  return float32ToF16Bits(values.map((v) => (Number.isFinite(v) ? Math.max(-FLOAT16_MAX, Math.min(FLOAT16_MAX, v)) : v)));
}

/**
 * The graph with every node computing in float16 except those `keepFloat32` names. Float32
 * initializers read by a float16 node become float16 (saturating); one read by both kinds of node has
 * a float16 copy beside it. Inputs and outputs stay float32, cast at the edges. Every op the builder
 * has takes its float inputs in one type, so retyping them is enough, but for the float32 that Cast's
 * and ConstantOfShape's attributes name, which are rewritten.
 */
export function toFloat16(graph: Graph, keepFloat32: (node: Node) => boolean): Graph {
  const values = new Map(graph.values);
  const initializers = new Map(graph.initializers);
  const nodes: Node[] = [];
  const names = new Set<string>([...graph.values.keys(), ...graph.nodes.map((n) => n.name)]);
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; names.has(name); k++) name = `${base}_${k}`;
    names.add(name);
    return name;
  };
  const inputNames = new Set(graph.inputs.map((v) => v.name));
  // Each float32 value's copy in the other precision, made once.
  const castOf = new Map<string, string>();

  /** `name` as the float type `want`: itself, a narrowed initializer, or a Cast inserted here. */
  const asType = (name: string, want: 'float32' | 'float16'): string => {
    const v = values.get(name);
    if (v === undefined || v.dtype === want || (v.dtype !== 'float32' && v.dtype !== 'float16')) return name;
    const key = `${name}->${want}`;
    const known = castOf.get(key);
    if (known !== undefined) return known;
    const init = initializers.get(name);
    const out = fresh(`${name}/${want === 'float16' ? 'fp16' : 'fp32'}`);
    if (init !== undefined && !inputNames.has(name) && want === 'float16') {
      initializers.set(out, { dtype: 'float16', dims: init.dims, data: narrowSaturating(init.data as Float32Array) });
    } else {
      nodes.push({ name: fresh(`${out}/Cast`), opType: 'Cast', inputs: [name], outputs: [out], attrs: { to: { kind: 'int', value: onnxDataType[want] } } });
    }
    values.set(out, { name: out, dtype: want, shape: v.shape });
    castOf.set(key, out);
    return out;
  };

  const outputNames = new Set(graph.outputs.map((o) => o.name));
  const isFloatInput = (name: string) => {
    const dtype = values.get(name)?.dtype;
    return dtype === 'float32' || dtype === 'float16';
  };
  for (const node of graph.nodes) {
    const precision = keepFloat32(node) ? 'float32' : 'float16';
    const inputs = node.inputs.map((name) => (name !== '' && isFloatInput(name) ? asType(name, precision) : name));
    const attrs = precision === 'float16' ? halfAttrs(node) : node.attrs;
    const outputs = node.outputs.map((name) => {
      const v = values.get(name);
      if (precision === 'float32' || v === undefined || v.dtype !== 'float32') return name;
      // A graph output keeps its name and type: the node writes a float16 value, cast below.
      const half = outputNames.has(name) ? fresh(`${name}/fp16`) : name;
      values.set(half, { name: half, dtype: 'float16', shape: v.shape });
      return half;
    });
    nodes.push({ ...node, inputs, outputs, attrs });
    node.outputs.forEach((name, i) => {
      if (outputs[i] !== name) {
        nodes.push({ name: fresh(`${name}/Cast`), opType: 'Cast', inputs: [outputs[i]], outputs: [name], attrs: { to: { kind: 'int', value: onnxDataType.float32 } } });
        values.set(name, graph.values.get(name) as Value);
      }
    });
  }
  // Initializers no node reads any more (every reader took the float16 copy) are dropped.
  const read = new Set(nodes.flatMap((n) => n.inputs));
  for (const name of [...initializers.keys()]) {
    if (!read.has(name) && !inputNames.has(name) && !outputNames.has(name)) {
      initializers.delete(name);
      values.delete(name);
    }
  }
  return { ...graph, nodes, initializers, values };
}

/** A float16 node's attributes: Casts to float32 cast to float16, ConstantOfShape fills in float16. */
function halfAttrs(node: Node): Attrs {
  if (node.opType === 'Cast' && node.attrs.to?.kind === 'int' && node.attrs.to.value === onnxDataType.float32) {
    return { ...node.attrs, to: { kind: 'int', value: onnxDataType.float16 } };
  }
  const fill = node.attrs.value;
  if (node.opType === 'ConstantOfShape' && fill?.kind === 'tensor' && fill.value.dtype === 'float32') {
    const value: TensorData = { dtype: 'float16', dims: fill.value.dims, data: narrowSaturating(fill.value.data as Float32Array) };
    return { ...node.attrs, value: { kind: 'tensor', value } };
  }
  return node.attrs;
}
