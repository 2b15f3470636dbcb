import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rng } from '../testing/gradcheck';
import { bf16BitsToFloat32, f16BitsToFloat32, float32ToBF16Bits, float32ToF16Bits } from './half-float';
import {
  SafetensorsFile, checkpointLayout, dtypes, openCheckpoint, shardLayout, writeCheckpoint, writeCheckpointStream, writeSafetensors, type Dtype, type TensorToWrite,
} from './safetensors';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safetensors-spec-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let fileCount = 0;
const tmp = (name = 'x.safetensors') => path.join(fs.mkdtempSync(path.join(root, `${fileCount++}-`)), name);


function u64le(n: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** A file exactly as given: length prefix, header text, data bytes. */
function rawFile(header: string, data: Uint8Array = new Uint8Array(), declaredLength?: number): string {
  const file = tmp();
  const text = Buffer.from(header, 'utf8');
  fs.writeFileSync(file, Buffer.concat([u64le(declaredLength ?? text.length), text, data]));
  return file;
}

// Independent decoders straight from the IEEE/bfloat16 definitions, in float64 arithmetic.
function halfFromFormula(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 31) return m ? NaN : s * Infinity;
  if (e === 0) return s * 2 ** -14 * (m / 1024);
  return s * 2 ** (e - 15) * (1 + m / 1024);
}
function bf16FromFormula(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 7) & 0xff;
  const m = h & 0x7f;
  if (e === 255) return m ? NaN : s * Infinity;
  if (e === 0) return s * 2 ** -126 * (m / 128);
  return s * 2 ** (e - 127) * (1 + m / 128);
}

/** Nearest representable value with ties to the even pattern, searched among two candidates. */
function nearest(x: number, lo: number, decode: (h: number) => number): number {
  const dLo = Math.abs(decode(lo) - x);
  const dHi = Math.abs(decode(lo + 1) - x);
  if (dLo !== dHi) return dLo < dHi ? lo : lo + 1;
  return lo % 2 === 0 ? lo : lo + 1;
}

describe('writeSafetensors', () => {
  const f32Data = new Float32Array([0, 1, 2, 3, 4, 5]);
  const bytesOf = (header: string, data: Uint8Array) => Buffer.concat([u64le(header.length), Buffer.from(header), data]);
  const f32Bytes = new Uint8Array(f32Data.buffer);

  // Expected bytes restated from the reference's own tests (safetensors/src/tensor.rs:
  // test_serialization, test_serialization_forced_alignement, test_empty).
  it('matches the reference byte for byte', () => {
    const a = tmp();
    writeSafetensors(a, { 'attn.0': { dtype: 'F32', shape: [1, 2, 3], data: f32Data } });
    expect(fs.readFileSync(a)).toEqual(bytesOf('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}', f32Bytes));

    const b = tmp();
    writeSafetensors(b, { attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: f32Data } });
    expect(fs.readFileSync(b)).toEqual(bytesOf(`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}${' '.repeat(7)}`, f32Bytes));

    const c = tmp();
    writeSafetensors(c, {}, { framework: 'pt' });
    expect(fs.readFileSync(c)).toEqual(bytesOf(`{"__metadata__":{"framework":"pt"}}${' '.repeat(5)}`, new Uint8Array()));
  });

  it('orders tensors by descending alignment then name, whatever the insertion order, and leaves no temp file', () => {
    const t: Record<string, TensorToWrite> = {
      b: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
      a: { dtype: 'U8', shape: [1], data: new Uint8Array([9]) },
      z: { dtype: 'F64', shape: [1], data: new Float64Array([0.25]) },
    };
    const one = tmp();
    const two = tmp();
    writeSafetensors(one, t, { y: '1', x: '2' });
    writeSafetensors(two, { z: t.z, a: t.a, b: t.b }, { x: '2', y: '1' });
    expect(fs.readFileSync(one)).toEqual(fs.readFileSync(two));
    const n = Number(fs.readFileSync(one).readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const header = fs.readFileSync(one).subarray(8, 8 + n).toString('utf8');
    expect(header.indexOf('"__metadata__"')).toBeLessThan(header.indexOf('"z"'));
    expect(header.indexOf('"z"')).toBeLessThan(header.indexOf('"a"'));
    expect(header.indexOf('"a"')).toBeLessThan(header.indexOf('"b"'));
    expect(fs.readdirSync(path.dirname(one))).toEqual(['x.safetensors']);
  });

  it('refuses data whose length or array type does not fit the dtype, naming the tensor', () => {
    const file = tmp();
    expect(() => writeSafetensors(file, { w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } })).toThrow(/tensor 'w' has 12 bytes but F32 \[2,2\] needs 16/);
    expect(() => writeSafetensors(file, { h: { dtype: 'F16', shape: [4], data: new Float32Array(2) } })).toThrow(/tensor 'h': F16 data must be a Uint16Array or raw bytes, got Float32Array/);
    expect(fs.existsSync(file)).toBe(false);
  });
});

describe('reading', () => {
  it('round-trips every dtype', () => {
    const next = rng(1);
    const tensors: Record<string, TensorToWrite> = {};
    const raw: Record<string, Uint8Array> = {};
    dtypes.forEach((dtype, i) => {
      const shape = [2, i + 1];
      const size = { BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8 }[dtype];
      const bytes = Uint8Array.from({ length: 2 * (i + 1) * size }, () => (dtype === 'BOOL' ? (next() < 0.5 ? 0 : 1) : Math.floor(next() * 256)));
      raw[dtype] = bytes;
      tensors[`t.${dtype}`] = { dtype, shape, data: bytes };
    });
    const file = tmp();
    writeSafetensors(file, tensors, { format: 'pt' });
    const st = SafetensorsFile.open(file);
    try {
      expect(st.names().sort()).toEqual(Object.keys(tensors).sort());
      expect(st.metadata).toEqual({ format: 'pt' });
      const classes: Record<Dtype, string> = {
        BOOL: 'Uint8Array', U8: 'Uint8Array', I8: 'Int8Array', F8_E5M2: 'Uint8Array', F8_E4M3: 'Uint8Array', I16: 'Int16Array',
        U16: 'Uint16Array', F16: 'Uint16Array', BF16: 'Uint16Array', I32: 'Int32Array', U32: 'Uint32Array',
        F32: 'Float32Array', F64: 'Float64Array', I64: 'BigInt64Array', U64: 'BigUint64Array',
      };
      for (const dtype of dtypes) {
        const name = `t.${dtype}`;
        expect(st.info(name)).toEqual({ dtype, shape: tensors[name].shape, byteLength: raw[dtype].length });
        expect(st.readBytes(name)).toEqual(raw[dtype]);
        const view = st.read(name);
        expect(view.constructor.name).toBe(classes[dtype]);
        expect(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)).toEqual(raw[dtype]);
      }
      const f16 = st.read('t.F16') as Uint16Array;
      expect(Array.from(st.readAsFloat32('t.F16'))).toEqual(Array.from(f16, (h) => Math.fround(halfFromFormula(h))));
      const bf16 = st.read('t.BF16') as Uint16Array;
      expect(Array.from(st.readAsFloat32('t.BF16'))).toEqual(Array.from(bf16, (h) => Math.fround(bf16FromFormula(h))));
      const f64 = st.read('t.F64') as Float64Array;
      expect(Array.from(st.readAsFloat32('t.F64'))).toEqual(Array.from(f64, Math.fround));
      expect(() => st.readAsFloat32('t.I32')).toThrow(/tensor 't.I32' is I32, not a floating-point dtype/);
      expect(() => st.read('missing')).toThrow(/has no tensor 'missing'/);
    } finally {
      st.close();
    }
  });

  it.each(['F32', 'F16', 'BF16', 'F64'] as const)('reads chosen rows of a %s matrix, each as readAsFloat32 gives it', (dtype) => {
    const [rows, width] = [7, 5];
    const values = Float64Array.from({ length: rows * width * 2 }, (_, i) => ((i * 37) % 23) / 7 - 1.5);
    const bits = dtype === 'F64' ? values : dtype === 'F32' ? Float32Array.from(values) : Uint16Array.from(values, (_, i) => (i * 2654435761) % 0x7bff);
    const file = tmp();
    writeSafetensors(file, { m: { dtype, shape: [rows, 2, width], data: bits } }, {});
    const st = SafetensorsFile.open(file);
    try {
      const whole = st.readAsFloat32('m');
      const wanted = [3, 0, 6, 3, 3, 1];
      const got = st.readRowsAsFloat32('m', wanted);
      const rowSize = 2 * width;
      expect(Array.from(got)).toEqual(wanted.flatMap((r) => Array.from(whole.subarray(r * rowSize, (r + 1) * rowSize))));
      expect(st.readRowsAsFloat32('m', []).length).toBe(0);
      expect(() => st.readRowsAsFloat32('m', [7])).toThrow(/tensor 'm': row 7 is outside its 7 rows/);
      expect(() => st.readRowsAsFloat32('m', [1.5])).toThrow(/row 1.5 is outside/);
    } finally {
      st.close();
    }
  });

  it('refuses to read rows of a vector', () => {
    const file = tmp();
    writeSafetensors(file, { v: { dtype: 'F32', shape: [4], data: Float32Array.of(1, 2, 3, 4) } }, {});
    const st = SafetensorsFile.open(file);
    try {
      expect(() => st.readRowsAsFloat32('v', [0])).toThrow(/tensor 'v' is \[4\], not a matrix/);
    } finally {
      st.close();
    }
  });

  it('reads tensor bytes from disk when asked, not at open', () => {
    const file = tmp();
    writeSafetensors(file, { w: { dtype: 'U8', shape: [2], data: new Uint8Array([1, 2]) } });
    const st = SafetensorsFile.open(file);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, new Uint8Array([7]), 0, 1, fs.statSync(file).size - 1);
    fs.closeSync(fd);
    expect(Array.from(st.read('w') as Uint8Array)).toEqual([1, 7]);
    fs.truncateSync(file, fs.statSync(file).size - 1);
    expect(() => st.read('w')).toThrow(`safetensors file ${file}: tensor 'w': file ended after 1 of 2 bytes`);
    st.close();
  });

  // Written by hand as another writer might: Python-style spaced JSON, a header length that is not
  // a multiple of 8 (so the data starts unaligned), tensors listed out of offset order, metadata.
  it('reads a real-format file with metadata and odd alignment', () => {
    const header = '{"__metadata__": {"format": "pt", "source": "hand"}, "b.weight": {"dtype": "F16", "shape": [3], "data_offsets": [8, 14]}, "a.bias": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}}';
    expect(header.length % 8).not.toBe(0);
    // 1.5 as float64 is 0x3FF8000000000000; 1, -2, 0.5 as half are 0x3C00, 0xC000, 0x3800.
    const data = new Uint8Array([0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38]);
    const st = SafetensorsFile.open(rawFile(header, data));
    try {
      expect(st.metadata).toEqual({ format: 'pt', source: 'hand' });
      expect(st.info('b.weight')).toEqual({ dtype: 'F16', shape: [3], byteLength: 6 });
      expect(Array.from(st.readAsFloat32('b.weight'))).toEqual([1, -2, 0.5]);
      expect(Array.from(st.read('a.bias') as Float64Array)).toEqual([1.5]);
    } finally {
      st.close();
    }
  });
});

describe('float conversions', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);

  it('widens every F16 and BF16 bit pattern to the value its definition gives', () => {
    const half = f16BitsToFloat32(all);
    const brain = bf16BitsToFloat32(all);
    // toEqual compares numbers with Object.is: NaN matches NaN, and -0 must stay -0.
    expect(Array.from(half)).toEqual(Array.from(all, halfFromFormula));
    expect(Array.from(brain)).toEqual(Array.from(all, (h) => Math.fround(bf16FromFormula(h))));
  });

  it('narrows float32 to F16 and BF16 to the nearest value, ties to even', () => {
    const next = rng(2);
    const values: number[] = [];
    for (let i = 0; i < 4000; i++) {
      // Random magnitudes across the half range (subnormals to overflow) and across bfloat16's.
      values.push(Math.fround((next() < 0.5 ? -1 : 1) * 2 ** (next() * 44 - 28) * (1 + next())));
    }
    for (let h = 1; h < 0x7bff; h += 37) values.push(Math.fround((halfFromFormula(h) + halfFromFormula(h + 1)) / 2)); // exact ties
    values.push(0, -0, 65504, 65519.996, 65520, 1e6, 2 ** -25, 2 ** -25 * 1.0001, 2 ** -26);
    const input = Float32Array.from(values);
    const half = float32ToF16Bits(input);
    const brain = float32ToBF16Bits(input);
    const f32bits = new Uint32Array(input.buffer);
    input.forEach((x, i) => {
      const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
      // F16: search the positive patterns (sorted by value) for the pair around |x|.
      // IEEE rounds as if the exponent were unbounded, then overflows: infinity stands for 2^16.
      const halfUnbounded = (h: number) => (h === 0x7c00 ? 2 ** 16 : halfFromFormula(h));
      // Positive patterns are ordered by value: binary-search the last one not above |x|.
      let lo = 0;
      let hi = 0x7c00;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (halfUnbounded(mid) <= Math.abs(x)) lo = mid;
        else hi = mid - 1;
      }
      const expectedHalf = lo === 0x7c00 ? 0x7c00 : nearest(Math.abs(x), lo, halfUnbounded);
      expect(half[i], `f16 of ${x}`).toBe(sign | expectedHalf);
      const expectedBrain = nearest(x, f32bits[i] >>> 16, bf16FromFormula);
      expect(brain[i], `bf16 of ${x}`).toBe(expectedBrain);
    });
    const exact = Array.from(all).filter((h) => !Number.isNaN(halfFromFormula(h)));
    expect(Array.from(float32ToF16Bits(Float32Array.from(exact, halfFromFormula)))).toEqual(exact);
    expect(Number.isNaN(f16BitsToFloat32(float32ToF16Bits(Float32Array.of(NaN)))[0])).toBe(true);
    expect(Number.isNaN(bf16BitsToFloat32(float32ToBF16Bits(Float32Array.of(NaN)))[0])).toBe(true);
  });
});

describe('checkpoints', () => {
  const weights = (): Record<string, TensorToWrite> => ({
    'model.embed.weight': { dtype: 'F32', shape: [4, 3], data: Float32Array.from({ length: 12 }, (_, i) => i / 4) },
    'model.layers.0.w': { dtype: 'BF16', shape: [5], data: float32ToBF16Bits(Float32Array.of(1, 2, 3, 4, 5)) },
    'model.layers.1.w': { dtype: 'I64', shape: [2], data: BigInt64Array.of(-3n, 1n << 40n) },
    'lm_head.weight': { dtype: 'F32', shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => -i) },
  });

  it('round-trips sharded weights through model.safetensors.index.json', () => {
    const dir = path.dirname(tmp());
    const w = weights();
    writeCheckpoint(dir, w, { maxShardBytes: 50, metadata: { format: 'pt' } });
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(48 + 10 + 16 + 48);
    expect(Object.keys(index.weight_map)).toEqual(Object.keys(w).sort());
    const shardNames = [...new Set(Object.values(index.weight_map))].sort();
    expect(shardNames).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(false);

    const ckpt = openCheckpoint(dir);
    try {
      expect(ckpt.names().sort()).toEqual(Object.keys(w).sort());
      expect(ckpt.metadata).toEqual({ format: 'pt' });
      for (const [name, t] of Object.entries(w)) {
        expect(ckpt.info(name)).toEqual({ dtype: t.dtype, shape: t.shape, byteLength: t.data.byteLength });
        expect(ckpt.read(name)).toEqual(t.data);
      }
      expect(Array.from(ckpt.readAsFloat32('model.layers.0.w'))).toEqual([1, 2, 3, 4, 5]);
      expect(Array.from(ckpt.readRowsAsFloat32('lm_head.weight', [2, 0]))).toEqual([-8, -9, -10, -11, -0, -1, -2, -3]);
    } finally {
      ckpt.close();
    }
  });

  it('writes and opens a single model.safetensors when the weights fit one shard', () => {
    const dir = path.dirname(tmp());
    writeCheckpoint(dir, weights());
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
    const ckpt = openCheckpoint(dir);
    expect(ckpt.read('lm_head.weight')).toEqual(weights()['lm_head.weight'].data);
    ckpt.close();
  });

  it('names the weight and the shard when index.json points at a missing or wrong shard', () => {
    const dir = path.dirname(tmp());
    writeCheckpoint(dir, weights(), { maxShardBytes: 50 });
    const indexPath = path.join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(fs.readFileSync(indexPath, 'utf8'));
    index.weight_map['extra.weight'] = 'model-00009-of-00009.safetensors';
    fs.writeFileSync(indexPath, JSON.stringify(index));
    expect(() => openCheckpoint(dir)).toThrow(/weight 'extra.weight' is in shard model-00009-of-00009.safetensors, which does not exist/);
    index.weight_map['extra.weight'] = 'model-00001-of-00003.safetensors';
    fs.writeFileSync(indexPath, JSON.stringify(index));
    expect(() => openCheckpoint(dir)).toThrow(/weight 'extra.weight' is not in its shard model-00001-of-00003.safetensors/);
    expect(() => openCheckpoint(path.dirname(tmp()))).toThrow(/has neither model.safetensors nor model.safetensors.index.json/);
  });
});

describe('streamed checkpoints', () => {
  const specs = [
    { name: 'b.weight', dtype: 'BF16' as const, shape: [3, 2] },
    { name: 'a.weight', dtype: 'F32' as const, shape: [4] },
    { name: 'c.bias', dtype: 'F16' as const, shape: [5] },
  ];
  const data: Record<string, ArrayBufferView> = {
    'b.weight': float32ToBF16Bits(Float32Array.of(1, 2, 3, 4, 5, 6)),
    'a.weight': Float32Array.of(-1, 0.5, 2, 8),
    'c.bias': float32ToF16Bits(Float32Array.of(0.25, 1, -2, 3, 4)),
  };

  it('gives the same bytes as the in-memory writer, whatever order the tensors come in', () => {
    const [a, b] = [path.dirname(tmp()), path.dirname(tmp())];
    writeCheckpoint(a, Object.fromEntries(specs.map((s) => [s.name, { ...s, data: data[s.name] }])), { maxShardBytes: 26, metadata: { format: 'pt' } });
    const layout = shardLayout(specs, 26);
    expect(layout.shards.map((s) => [s.file, s.tensors.map((t) => t.name)])).toEqual([
      ['model-00001-of-00002.safetensors', ['b.weight']],
      ['model-00002-of-00002.safetensors', ['a.weight', 'c.bias']],
    ]);
    writeCheckpointStream(b, layout, ['c.bias', 'b.weight', 'a.weight'].map((name) => ({ name, data: data[name] })), { metadata: { format: 'pt' } });
    for (const file of fs.readdirSync(a)) expect(fs.readFileSync(path.join(b, file)).equals(fs.readFileSync(path.join(a, file))), file).toBe(true);
    expect(fs.readdirSync(b).sort()).toEqual(fs.readdirSync(a).sort());
    expect(checkpointLayout(b)).toEqual({ shards: layout.shards.map((s) => ({ ...s, tensors: [...s.tensors].sort((x, y) => (x.name < y.name ? -1 : 1)) })), index: true });
  });

  it('produces tensors lazily, one at a time, and leaves nothing behind when one is missing or misshapen', () => {
    const dir = path.dirname(tmp());
    const produced: string[] = [];
    function* lazy(names: string[]) {
      for (const name of names) {
        produced.push(name);
        yield { name, data: data[name] };
      }
    }
    expect(() => writeCheckpointStream(dir, shardLayout(specs), lazy(['a.weight', 'b.weight']))).toThrow(/1 tensors were never produced \(first: 'c.bias'\)/);
    expect(produced).toEqual(['a.weight', 'b.weight']);
    expect(fs.readdirSync(dir)).toEqual([]);
    const wrong = [{ name: 'a.weight', data: Float32Array.of(1) }];
    expect(() => writeCheckpointStream(dir, shardLayout(specs.slice(1, 2)), wrong)).toThrow(/tensor 'a.weight' has 4 bytes but F32 \[4\] needs 16/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('corrupt files', () => {
  const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });
  const file = (header: object, dataBytes: number) => rawFile(JSON.stringify(header), new Uint8Array(dataBytes));
  const cases: [string, () => string, RegExp][] = [
    ['header length beyond the file', () => rawFile('{}', new Uint8Array(), 4096), /header length 4096 runs past the end of the file \(10 bytes\)/],
    ['a file shorter than 8 bytes', () => { const f = tmp(); fs.writeFileSync(f, 'abc'); return f; }, /shorter than the 8-byte header length/],
    ['invalid JSON', () => rawFile('{"w": {"dtype": "F32",'), /header is not valid JSON/],
    ['overlapping offsets', () => file({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) }, 12), /tensor 'b' bytes \[4, 12\) overlap tensor 'a'/],
    ['offsets past the buffer', () => file({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 8, 16) }, 12), /tensor 'b' bytes \[8, 16\) run past the end of the 12-byte buffer/],
    ['a gap between tensors', () => file({ a: entry('U8', [2], 0, 2), b: entry('U8', [2], 4, 6) }, 6), /tensor 'b' starts at byte 4, leaving bytes \[2, 4\) unused/],
    ['trailing bytes', () => file({ a: entry('U8', [2], 0, 2) }, 5), /the header's tensors cover 2 bytes but the buffer holds 5: bytes \[2, 5\) belong to no tensor/],
    ['byte length not matching dtype and shape', () => file({ w: entry('F16', [2, 3], 0, 8) }, 8), /tensor 'w' spans 8 bytes but F16 \[2,3\] needs 12/],
    ['unknown dtype', () => file({ w: entry('F128', [1], 0, 16) }, 16), /tensor 'w' has unknown dtype "F128"/],
    ['negative offsets', () => file({ w: entry('U8', [1], -1, 0) }, 1), /tensor 'w' has invalid data_offsets \[-1,0\]/],
    ['duplicate names', () => rawFile('{"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', new Uint8Array(1)), /header names tensor 'w' more than once/],
    ['non-string metadata', () => file({ __metadata__: { n: 3 } }, 0), /__metadata__ value of 'n' is not a string/],
  ];
  it.each(cases)('rejects %s, naming the file', (_label, make, message) => {
    const f = make();
    let error: Error | undefined;
    try {
      SafetensorsFile.open(f).close();
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error?.message).toContain(f);
  });

  it('does not mistake a key inside a tensor entry or a string for a duplicate name', () => {
    const header = '{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "b,\\"a\\"": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}';
    const st = SafetensorsFile.open(rawFile(header, new Uint8Array([1, 2])));
    expect(st.names().sort()).toEqual(['a', 'b,"a"']);
    st.close();
  });
});
