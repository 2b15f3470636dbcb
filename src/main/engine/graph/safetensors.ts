// safetensors I/O (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON (`{name: {dtype, shape, data_offsets}}` plus an optional
// `__metadata__` of strings), then the byte buffer the offsets point into. Files are read lazily:
// opening reads the header only, and each tensor's bytes are read with fs.readSync at its offset
// when asked for, so a multi-gigabyte checkpoint never sits in the JS heap as a whole.
import fs from 'node:fs';
import path from 'node:path';
import { ApiError, fileProblem, jsonProblem, shownValue } from '../../../shared/errors';
import { bf16BitsToFloat32, f16BitsToFloat32 } from './half-float';

/** Every dtype the reference defines, in its order of increasing alignment (`Dtype` in tensor.rs). */
export const dtypes = [
  'BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64',
] as const;
export type Dtype = (typeof dtypes)[number];

export type TensorArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

type ArrayClass = { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): TensorArray; BYTES_PER_ELEMENT: number };

// F16 and BF16 come back as their raw 16-bit patterns (Node 20 has no Float16Array); F8 as bytes.
const arrayClass: Record<Dtype, ArrayClass> = {
  BOOL: Uint8Array, U8: Uint8Array, I8: Int8Array, F8_E5M2: Uint8Array, F8_E4M3: Uint8Array,
  I16: Int16Array, U16: Uint16Array, F16: Uint16Array, BF16: Uint16Array,
  I32: Int32Array, U32: Uint32Array, F32: Float32Array, F64: Float64Array,
  I64: BigInt64Array, U64: BigUint64Array,
};

export function dtypeSize(dtype: Dtype): number {
  return arrayClass[dtype].BYTES_PER_ELEMENT;
}

export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  byteLength: number;
}

export interface TensorToWrite {
  dtype: Dtype;
  shape: readonly number[];
  /** The typed array that matches the dtype (Uint16Array for F16/BF16), or raw little-endian bytes. */
  data: ArrayBufferView;
}

/** A name→tensor view over one file or a sharded checkpoint; tensors are read on demand. */
export interface TensorSource {
  readonly metadata: Readonly<Record<string, string>>;
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** The raw little-endian bytes, in a fresh buffer. */
  readBytes(name: string): Uint8Array;
  /** A typed array over a fresh, aligned buffer (raw bits for F16/BF16). */
  read(name: string): TensorArray;
  /** F32 as is; F16, BF16 and F64 converted to float32. */
  readAsFloat32(name: string): Float32Array;
  /** Rows of a matrix (a tensor of rank 2 or more, read as [shape[0], rest]) as readAsFloat32 gives
   *  them, [rows.length, rest]: only those rows' bytes are read, each distinct row once. */
  readRowsAsFloat32(name: string, rows: readonly number[]): Float32Array;
  close(): void;
}

// The reference refuses headers over 100 MB (MAX_HEADER_SIZE in tensor.rs); so do we.
const maxHeaderBytes = 100_000_000;
// Linux read(2) and write(2) move at most ~2 GiB per call, so big tensors go in 1 GiB chunks.
const ioChunkBytes = 1 << 30;

function bad(file: string, what: string): ApiError {
  return new ApiError('bad_input', `safetensors file ${file}: ${what}`, { file });
}

interface Entry extends TensorInfo {
  begin: number; // offset of the tensor's bytes from the start of the file
}

export class SafetensorsFile implements TensorSource {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  private fd: number | null;
  private readonly entries: Map<string, Entry>;

  private constructor(file: string, fd: number, entries: Map<string, Entry>, metadata: Record<string, string>) {
    this.path = file;
    this.fd = fd;
    this.entries = entries;
    this.metadata = metadata;
  }

  /** Opens a file and validates its header; tensor bytes stay on disk until read. */
  static open(file: string): SafetensorsFile {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (err) {
      throw new ApiError('bad_input', fileProblem(err, 'safetensors file', file), { file });
    }
    try {
      // A folder opens (read-only) on Linux and fails only at the first read, with raw EISDIR.
      if (!fs.fstatSync(fd).isFile()) throw new ApiError('bad_input', fileProblem({ code: 'EISDIR' }, 'safetensors file', file), { file });
      const { entries, metadata } = readHeader(file, fd);
      return new SafetensorsFile(file, fd, entries, metadata);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  info(name: string): TensorInfo {
    const { dtype, shape, byteLength } = this.entry(name);
    return { dtype, shape: [...shape], byteLength };
  }

  readBytes(name: string): Uint8Array {
    const entry = this.entry(name);
    const fd = this.openFd();
    const bytes = new Uint8Array(new ArrayBuffer(entry.byteLength));
    readFully(this.path, fd, bytes, entry.begin, `tensor '${name}'`);
    return bytes;
  }

  read(name: string): TensorArray {
    const bytes = this.readBytes(name);
    const Cls = arrayClass[this.entry(name).dtype];
    return new Cls(bytes.buffer as ArrayBuffer, 0, bytes.length / Cls.BYTES_PER_ELEMENT);
  }

  readAsFloat32(name: string): Float32Array {
    return toFloat32(this.entry(name).dtype, this.read(name), `${this.path}: tensor '${name}'`);
  }

  readRowsAsFloat32(name: string, rows: readonly number[]): Float32Array {
    const entry = this.entry(name);
    const where = `${this.path}: tensor '${name}'`;
    const [count] = entry.shape;
    if (entry.shape.length < 2) throw new Error(`${where} is [${entry.shape.join(', ')}], not a matrix to read rows of`);
    const rowBytes = entry.byteLength / count;
    const width = rowBytes / dtypeSize(entry.dtype);
    const fd = this.openFd();
    const out = new Float32Array(rows.length * width);
    const first = new Map<number, number>();
    rows.forEach((row, i) => {
      if (!(Number.isInteger(row) && row >= 0 && row < count)) throw new Error(`${where}: row ${row} is outside its ${count} rows`);
      const seen = first.get(row);
      if (seen !== undefined) {
        out.copyWithin(i * width, seen * width, (seen + 1) * width);
        return;
      }
      first.set(row, i);
      const bytes = new Uint8Array(rowBytes);
      readFully(this.path, fd, bytes, entry.begin + row * rowBytes, `${where} row ${row}`);
      out.set(toFloat32(entry.dtype, new arrayClass[entry.dtype](bytes.buffer as ArrayBuffer, 0, width), where), i * width);
    });
    return out;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private entry(name: string): Entry {
    const entry = this.entries.get(name);
    if (!entry) throw new ApiError('not_found', `safetensors file ${this.path} has no tensor '${name}'`, { file: this.path, tensor: name });
    return entry;
  }

  private openFd(): number {
    if (this.fd === null) throw new Error(`safetensors file ${this.path} was closed`);
    return this.fd;
  }
}

/** Fills `bytes` from `position`; one read(2) may return less than asked, and at most ~2 GiB. */
function readFully(file: string, fd: number, bytes: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < bytes.length) {
    const got = fs.readSync(fd, bytes, done, Math.min(ioChunkBytes, bytes.length - done), position + done);
    if (got === 0) throw bad(file, `${what}: file ended after ${done} of ${bytes.length} bytes`);
    done += got;
  }
}

function readHeader(file: string, fd: number): { entries: Map<string, Entry>; metadata: Record<string, string> } {
  const fileSize = fs.fstatSync(fd).size;
  if (fileSize < 8) throw bad(file, `file is ${fileSize} bytes, shorter than the 8-byte header length`);
  const lengthBytes = Buffer.alloc(8);
  readFully(file, fd, lengthBytes, 0, 'header length');
  const n = lengthBytes.readBigUInt64LE(0);
  if (n > BigInt(fileSize - 8)) throw bad(file, `header length ${n} runs past the end of the file (${fileSize} bytes)`);
  if (n > BigInt(maxHeaderBytes)) throw bad(file, `header length ${n} is over the ${maxHeaderBytes}-byte limit`);
  const headerLength = Number(n);
  const headerBytes = Buffer.alloc(headerLength);
  readFully(file, fd, headerBytes, 8, 'header');

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw bad(file, 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    throw bad(file, `header is not valid JSON: ${jsonProblem(err)}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(file, 'header is not a JSON object');
  const duplicate = firstDuplicateKey(text);
  if (duplicate !== undefined) throw bad(file, `header names tensor '${duplicate}' more than once`);

  const metadata: Record<string, string> = {};
  const entries: { name: string; entry: Entry; offsets: [number, number] }[] = [];
  const dataStart = 8 + headerLength;
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(file, '__metadata__ is not an object');
      for (const [key, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw bad(file, `__metadata__ value of '${key}' is not a string`);
        metadata[key] = v;
      }
      continue;
    }
    const parsed = parseEntry(file, name, value);
    entries.push({ name, offsets: parsed.offsets, entry: { ...parsed.info, begin: dataStart + parsed.offsets[0] } });
  }

  // The reference requires the tensors to tile the buffer exactly: sorted by offset, each starting
  // where the previous one ends, the last ending at the end of the file (Metadata::validate).
  entries.sort((a, b) => a.offsets[0] - b.offsets[0] || a.offsets[1] - b.offsets[1]);
  const bufferSize = fileSize - dataStart;
  let end = 0;
  let previous: string | undefined;
  for (const { name, offsets } of entries) {
    const [begin, stop] = offsets;
    if (begin < end) throw bad(file, `tensor '${name}' bytes [${begin}, ${stop}) overlap tensor '${previous}' (ends at ${end})`);
    if (begin > end) throw bad(file, `tensor '${name}' starts at byte ${begin}, leaving bytes [${end}, ${begin}) unused`);
    if (stop > bufferSize) throw bad(file, `tensor '${name}' bytes [${begin}, ${stop}) run past the end of the ${bufferSize}-byte buffer`);
    end = stop;
    previous = name;
  }
  if (end !== bufferSize) throw bad(file, `the header's tensors cover ${end} bytes but the buffer holds ${bufferSize}: bytes [${end}, ${bufferSize}) belong to no tensor`);
  return { entries: new Map(entries.map((e) => [e.name, e.entry])), metadata };
}

function parseEntry(file: string, name: string, value: unknown): { info: TensorInfo; offsets: [number, number] } {
  const where = `tensor '${name}'`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(file, `${where} is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtypes as readonly string[]).includes(dtype)) {
    throw bad(file, `${where} has ${dtype === undefined ? 'no dtype' : `unknown dtype ${shownValue(dtype)}`} (known: ${dtypes.join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) throw bad(file, `${where} has ${shape === undefined ? 'no shape' : `an invalid shape ${shownValue(shape)}`}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount) || offsets[1] < offsets[0]) {
    throw bad(file, `${where} has ${offsets === undefined ? 'no data_offsets' : `invalid data_offsets ${shownValue(offsets)}`}`);
  }
  const byteLength = offsets[1] - offsets[0];
  const expected = byteLengthOf(dtype as Dtype, shape);
  if (byteLength !== expected) {
    throw bad(file, `${where} spans ${byteLength} bytes but ${dtype} ${JSON.stringify(shape)} needs ${expected}`);
  }
  return { info: { dtype: dtype as Dtype, shape, byteLength }, offsets: [offsets[0], offsets[1]] };
}

function isCount(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

function byteLengthOf(dtype: Dtype, shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1) * dtypeSize(dtype);
}

/**
 * The first key that occurs twice at the top level of a JSON object text (JSON.parse keeps the
 * last silently). Assumes the text already parsed, so only strings and nesting need tracking.
 */
function firstDuplicateKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = depth === 1;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return undefined;
}

function toFloat32(dtype: Dtype, data: TensorArray, where: string): Float32Array {
  switch (dtype) {
    case 'F32': return data as Float32Array;
    case 'F16': return f16BitsToFloat32(data as Uint16Array);
    case 'BF16': return bf16BitsToFloat32(data as Uint16Array);
    case 'F64': return Float32Array.from(data as Float64Array);
    default: throw new ApiError('bad_input', `${where} is ${dtype}, not a floating-point dtype that converts to float32`);
  }
}

// ---- writing -----------------------------------------------------------------------------------

/** A tensor's place in a file before its bytes exist: what a streamed header is made from. */
export interface TensorSpec {
  name: string;
  dtype: Dtype;
  shape: readonly number[];
}

/** The reference's order (tensor.rs `prepare`): descending dtype alignment, then name. */
function fileOrder(specs: readonly TensorSpec[]): TensorSpec[] {
  return [...specs].sort((a, b) => dtypes.indexOf(b.dtype) - dtypes.indexOf(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The 8-byte length and the JSON header (compact, `__metadata__` first, space-padded to a multiple
 *  of 8 so every tensor starts aligned), and where each tensor's bytes begin in the file. */
function headerFor(file: string, specs: readonly TensorSpec[], metadata?: Readonly<Record<string, string>>): { prefix: Buffer; begins: Map<string, number>; fileBytes: number } {
  const parts: string[] = [];
  if (metadata) {
    const keys = Object.keys(metadata).sort();
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  const offsets = new Map<string, number>();
  let offset = 0;
  for (const spec of fileOrder(specs)) {
    checkSpec(file, spec);
    if (offsets.has(spec.name)) throw new ApiError('invalid_argument', `writing ${file}: tensor '${spec.name}' is given twice`);
    const bytes = byteLengthOf(spec.dtype, spec.shape);
    parts.push(`${JSON.stringify(spec.name)}:${JSON.stringify({ dtype: spec.dtype, shape: spec.shape, data_offsets: [offset, offset + bytes] })}`);
    offsets.set(spec.name, offset);
    offset += bytes;
  }
  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const prefix = Buffer.alloc(8 + json.length + ((8 - (json.length % 8)) % 8), ' ');
  prefix.writeBigUInt64LE(BigInt(prefix.length - 8));
  json.copy(prefix, 8);
  const begins = new Map([...offsets].map(([name, o]) => [name, prefix.length + o]));
  return { prefix, begins, fileBytes: prefix.length + offset };
}

/**
 * Writes tensors in the reference's layout (tensor.rs `prepare`): sorted by descending dtype
 * alignment then name, `__metadata__` first, compact JSON padded with spaces to a multiple of 8 so
 * every tensor starts aligned. The same input gives the same bytes; the file appears atomically.
 */
export function writeSafetensors(file: string, tensors: Readonly<Record<string, TensorToWrite>>, metadata?: Readonly<Record<string, string>>): void {
  const specs = Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  const { prefix } = headerFor(file, specs, metadata);
  const chunks = fileOrder(specs).map((spec) => tensorBytes(file, spec.name, tensors[spec.name]));
  writeAtomically(file, [prefix, ...chunks]);
}

function checkSpec(file: string, spec: TensorSpec): void {
  const where = `writing ${file}: tensor '${spec.name}'`;
  if (!spec.name || spec.name === '__metadata__') throw new ApiError('invalid_argument', `writing ${file}: '${spec.name}' is not a usable tensor name`);
  if (!(dtypes as readonly string[]).includes(spec.dtype)) throw new ApiError('invalid_argument', `${where} has unknown dtype '${spec.dtype}'`);
  if (!spec.shape.every(isCount)) throw new ApiError('invalid_argument', `${where} has an invalid shape ${JSON.stringify(spec.shape)}`);
}

function tensorBytes(file: string, name: string, tensor: TensorToWrite): Uint8Array {
  const where = `writing ${file}: tensor '${name}'`;
  const { data } = tensor;
  const Cls = arrayClass[tensor.dtype];
  if (!(data instanceof Uint8Array) && data.constructor !== Cls) {
    throw new ApiError('invalid_argument', `${where}: ${tensor.dtype} data must be a ${Cls.name} or raw bytes, got ${data.constructor.name}`);
  }
  const expected = byteLengthOf(tensor.dtype, tensor.shape);
  if (data.byteLength !== expected) {
    throw new ApiError('invalid_argument', `${where} has ${data.byteLength} bytes but ${tensor.dtype} ${JSON.stringify(tensor.shape)} needs ${expected}`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Writes to a temporary file beside the target, syncs it, then renames it over the target. */
export function writeAtomically(file: string, chunks: readonly Uint8Array[]): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) done += fs.writeSync(fd, chunk, done, Math.min(ioChunkBytes, chunk.length - done));
    }
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
}

// ---- checkpoints (one file or shards with model.safetensors.index.json) -------------------------

const singleFile = 'model.safetensors';
const indexFile = 'model.safetensors.index.json';

/** One name→tensor view over a Hugging Face model folder's weights, whether one file or shards. */
export function openCheckpoint(dir: string): TensorSource {
  const index = path.join(dir, indexFile);
  if (fs.existsSync(index)) return ShardedCheckpoint.open(dir, index);
  const single = path.join(dir, singleFile);
  if (fs.existsSync(single)) return SafetensorsFile.open(single);
  throw new ApiError('bad_input', `model folder ${dir} has neither ${singleFile} nor ${indexFile}`, { file: dir });
}

class ShardedCheckpoint implements TensorSource {
  /** The first shard's `__metadata__` (writers give every shard the same, e.g. format: pt). */
  readonly metadata: Readonly<Record<string, string>>;
  private readonly weightMap: Map<string, SafetensorsFile>;
  private readonly shards: SafetensorsFile[];

  private constructor(weightMap: Map<string, SafetensorsFile>, shards: SafetensorsFile[]) {
    this.weightMap = weightMap;
    this.shards = shards;
    this.metadata = shards[0]?.metadata ?? {};
  }

  static open(dir: string, index: string): ShardedCheckpoint {
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(index, 'utf8'));
    } catch (err) {
      throw new ApiError('bad_input', (err as { code?: unknown }).code === undefined ? `checkpoint index ${index} is not valid JSON: ${jsonProblem(err)}` : fileProblem(err, 'checkpoint index', index), { file: index });
    }
    const weightMap = typeof parsed === 'object' && parsed !== null ? (parsed as { weight_map?: unknown }).weight_map : undefined;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new ApiError('bad_input', `checkpoint index ${index} has no weight_map object`, { file: index });
    }
    const shards = new Map<string, SafetensorsFile>();
    const map = new Map<string, SafetensorsFile>();
    try {
      for (const [name, shardName] of Object.entries(weightMap)) {
        if (typeof shardName !== 'string' || shardName === '' || shardName.includes('/') || shardName.includes('\\')) {
          throw new ApiError('bad_input', `checkpoint index ${index}: weight '${name}' maps to an invalid shard name ${JSON.stringify(shardName)}`, { file: index, tensor: name });
        }
        let shard = shards.get(shardName);
        if (!shard) {
          const shardPath = path.join(dir, shardName);
          if (!fs.existsSync(shardPath)) {
            throw new ApiError('bad_input', `checkpoint index ${index}: weight '${name}' is in shard ${shardName}, which does not exist`, { file: index, tensor: name });
          }
          shard = SafetensorsFile.open(shardPath);
          shards.set(shardName, shard);
        }
        if (!shard.has(name)) {
          throw new ApiError('bad_input', `checkpoint index ${index}: weight '${name}' is not in its shard ${shardName}`, { file: index, tensor: name });
        }
        map.set(name, shard);
      }
    } catch (err) {
      for (const shard of shards.values()) shard.close();
      throw err;
    }
    return new ShardedCheckpoint(map, [...shards.values()]);
  }

  names(): string[] {
    return [...this.weightMap.keys()];
  }
  has(name: string): boolean {
    return this.weightMap.has(name);
  }
  info(name: string): TensorInfo {
    return this.shard(name).info(name);
  }
  readBytes(name: string): Uint8Array {
    return this.shard(name).readBytes(name);
  }
  read(name: string): TensorArray {
    return this.shard(name).read(name);
  }
  readAsFloat32(name: string): Float32Array {
    return this.shard(name).readAsFloat32(name);
  }
  readRowsAsFloat32(name: string, rows: readonly number[]): Float32Array {
    return this.shard(name).readRowsAsFloat32(name, rows);
  }
  close(): void {
    for (const shard of this.shards) shard.close();
  }

  private shard(name: string): SafetensorsFile {
    const shard = this.weightMap.get(name);
    if (!shard) throw new ApiError('not_found', `checkpoint has no weight '${name}'`, { tensor: name });
    return shard;
  }
}

/** Which file each tensor goes to, in the order the tensors are given. */
export interface CheckpointLayout {
  shards: { file: string; tensors: TensorSpec[] }[];
  /** Whether model.safetensors.index.json is written (transformers writes one whenever it shards). */
  index: boolean;
}

// save_pretrained's max_shard_size="5GB", which transformers reads in decimal units (10^9 bytes).
const defaultMaxShardBytes = 5e9;

/**
 * The layout save_pretrained gives these tensors: one `model.safetensors` when they fit in
 * `maxShardBytes`, else `model-0000i-of-0000n.safetensors` filled in the given order, a tensor
 * opening a new shard when it would take the current one past the limit.
 */
export function shardLayout(specs: readonly TensorSpec[], maxShardBytes = defaultMaxShardBytes): CheckpointLayout {
  const groups: TensorSpec[][] = [[]];
  let currentBytes = 0;
  for (const spec of specs) {
    const size = byteLengthOf(spec.dtype, spec.shape);
    if (currentBytes > 0 && currentBytes + size > maxShardBytes) {
      groups.push([]);
      currentBytes = 0;
    }
    groups.at(-1)!.push(spec);
    currentBytes += size;
  }
  if (groups.length === 1) return { shards: [{ file: singleFile, tensors: groups[0] }], index: false };
  const pad = (i: number) => String(i).padStart(5, '0');
  return { shards: groups.map((tensors, i) => ({ file: `model-${pad(i + 1)}-of-${pad(groups.length)}.safetensors`, tensors })), index: true };
}

/** The layout of the checkpoint in `dir` as it is stored: its shard files, each tensor's dtype and
 *  shape, and whether it has an index (what a rewrite in the same layout follows). */
export function checkpointLayout(dir: string): CheckpointLayout {
  const source = openCheckpoint(dir);
  try {
    const index = path.join(dir, indexFile);
    if (!fs.existsSync(index)) return { shards: [{ file: singleFile, tensors: source.names().map((name) => ({ name, ...source.info(name) })) }], index: false };
    const weightMap = (JSON.parse(fs.readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map;
    const byFile = new Map<string, TensorSpec[]>();
    for (const [name, file] of Object.entries(weightMap)) {
      const { dtype, shape } = source.info(name);
      byFile.set(file, [...(byFile.get(file) ?? []), { name, dtype, shape }]);
    }
    return { shards: [...byFile].sort(([a], [b]) => (a < b ? -1 : 1)).map(([file, tensors]) => ({ file, tensors })), index: true };
  } finally {
    source.close();
  }
}

/**
 * Writes a checkpoint tensor by tensor: every shard's header first (from the layout's names, dtypes
 * and shapes), then each tensor's bytes at its offset as `produce` yields them, in any order, so only
 * the tensor being written is in memory. Each shard is written to a temporary file, synced and
 * renamed into place once every tensor is in; nothing is left behind on failure. With an index it
 * writes transformers' model.safetensors.index.json (`metadata.total_size`, sorted `weight_map`).
 */
export function writeCheckpointStream(
  dir: string,
  layout: CheckpointLayout,
  produce: Iterable<{ name: string; data: ArrayBufferView }>,
  options: { metadata?: Readonly<Record<string, string>> } = {},
): void {
  fs.mkdirSync(dir, { recursive: true });
  const where = new Map<string, { shard: number; begin: number; spec: TensorSpec }>();
  const open: { file: string; tmp: string; fd: number }[] = [];
  try {
    for (const [i, shard] of layout.shards.entries()) {
      const file = path.join(dir, shard.file);
      const { prefix, begins, fileBytes } = headerFor(file, shard.tensors, options.metadata);
      for (const spec of shard.tensors) {
        if (where.has(spec.name)) throw new ApiError('invalid_argument', `writing ${dir}: tensor '${spec.name}' is in two shards`);
        where.set(spec.name, { shard: i, begin: begins.get(spec.name)!, spec });
      }
      const tmp = path.join(dir, `.${shard.file}.${process.pid}.${Date.now()}.tmp`);
      const fd = fs.openSync(tmp, 'w');
      open.push({ file, tmp, fd });
      writeFully(fd, prefix, 0);
      fs.ftruncateSync(fd, fileBytes);
    }
    const written = new Set<string>();
    for (const { name, data } of produce) {
      const place = where.get(name);
      if (!place) throw new ApiError('invalid_argument', `writing ${dir}: tensor '${name}' is not in the checkpoint's layout`);
      if (written.has(name)) throw new ApiError('invalid_argument', `writing ${dir}: tensor '${name}' was produced twice`);
      const bytes = tensorBytes(open[place.shard].file, name, { ...place.spec, data });
      writeFully(open[place.shard].fd, bytes, place.begin);
      written.add(name);
    }
    const missing = [...where.keys()].filter((name) => !written.has(name));
    if (missing.length > 0) throw new ApiError('invalid_argument', `writing ${dir}: ${missing.length} tensors were never produced (first: '${missing[0]}')`);
    for (const f of open) fs.fsyncSync(f.fd);
  } catch (err) {
    for (const f of open) {
      fs.closeSync(f.fd);
      fs.rmSync(f.tmp, { force: true });
    }
    throw err;
  }
  for (const f of open) {
    fs.closeSync(f.fd);
    fs.renameSync(f.tmp, f.file);
  }
  if (!layout.index) return;
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (const shard of layout.shards) {
    for (const spec of shard.tensors) {
      weightMap[spec.name] = shard.file;
      totalSize += byteLengthOf(spec.dtype, spec.shape);
    }
  }
  const sorted = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
  const text = `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2)}\n`;
  writeAtomically(path.join(dir, indexFile), [Buffer.from(text, 'utf8')]);
}

function writeFully(fd: number, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, Math.min(ioChunkBytes, bytes.length - done), position + done);
}

/** Writes weights held in memory as save_pretrained lays them out (shardLayout); each shard carries `metadata`. */
export function writeCheckpoint(
  dir: string,
  tensors: Readonly<Record<string, TensorToWrite>>,
  options: { maxShardBytes?: number; metadata?: Readonly<Record<string, string>> } = {},
): void {
  const specs = Object.entries(tensors).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape }));
  const produce = Object.entries(tensors).map(([name, t]) => ({ name, data: t.data }));
  writeCheckpointStream(dir, shardLayout(specs, options.maxShardBytes), produce, { metadata: options.metadata });
}
