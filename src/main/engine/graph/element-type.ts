// Element types a builder graph can carry, and how each maps to ONNX's TensorProto.DataType and
// to the typed array that holds its data in JS.

export type ElementType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool';

/** TensorProto.DataType codes (onnx.proto). */
export const onnxDataType: Readonly<Record<ElementType, number>> = {
  float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, bfloat16: 16,
};

export const dtypeFromOnnx = (code: number): ElementType => {
  const found = (Object.keys(onnxDataType) as ElementType[]).find((d) => onnxDataType[d] === code);
  if (found === undefined) throw new Error(`ONNX data type ${code} is not supported by the graph builder`);
  return found;
};

/** float16/bfloat16 hold raw 16-bit patterns (Node 20 has no Float16Array); bool holds 0/1 bytes. */
export type TypedData = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;

export const isFloat = (d: ElementType): boolean => d === 'float32' || d === 'float16' || d === 'bfloat16' || d === 'float64';

/** A typed array of `dtype` from plain numbers (16-bit floats must be given as typed bit patterns). */
export function typedFrom(dtype: ElementType, values: ArrayLike<number>): TypedData {
  switch (dtype) {
    case 'float32': return Float32Array.from(values);
    case 'float64': return Float64Array.from(values);
    case 'int64': return BigInt64Array.from(Array.from(values, (v) => BigInt(Math.trunc(v))));
    case 'int32': return Int32Array.from(values);
    case 'int8': return Int8Array.from(values);
    case 'uint8': return Uint8Array.from(values);
    case 'bool': return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case 'float16': case 'bfloat16':
      throw new Error(`typedFrom: give ${dtype} data as a Uint16Array of bit patterns`);
  }
}
