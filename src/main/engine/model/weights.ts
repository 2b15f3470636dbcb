// Every weight a model folder of a supported family must hold, with the shape its config implies,
// under the names the Hugging Face checkpoints use (the family's module lists them); and loading
// that checks them against the files, accepting the other layouts a family's checkpoints come in.
import { ApiError } from '../../../shared/errors';
import type { Dtype, TensorSource } from '../graph/safetensors';
import { openCheckpoint } from '../graph/safetensors';
import type { ModelConfig } from './config';
import { familyOf, type ModelFamily } from './families';
import { transpose, type WeightShapes } from './weight-layout';

export { graphWeight, patchesPerSide, transpose, type WeightShapes } from './weight-layout';

/** The weights of `config`'s family, under the names its published checkpoints use. */
export function expectedWeights(config: ModelConfig): WeightShapes {
  return familyOf(config).expectedWeights(config);
}

const floatDtypes: readonly Dtype[] = ['F32', 'F16', 'BF16', 'F64'];

/** How a graph takes a weight: as the checkpoint stores it, or a torch Linear [out, in] (a conv kernel
 *  [out, ...] read as [out, in]) transposed to MatMul's [in, out]. */
export type GraphLayout = 'stored' | 'matmul';

export interface ModelWeights {
  /** Float32 values of a weight by its canonical name (the family's published layout): a fresh array, the caller's to keep or change. */
  get(name: string): Float32Array;
  /**
   * The weight as graphs take it, one array per name and layout for as long as anything holds it:
   * every graph built over this model gets the same array, so their CPU sessions share it (graph/session.ts
   * feeds it rather than copying it). Never write to it.
   */
  shared(name: string, layout: GraphLayout): Float32Array;
  /**
   * Float32 rows `ids` of a matrix [rows, ...] as stored, [ids.length, rest] (a fresh array): from
   * the shared array while one lives, else read from the checkpoint, only those rows: how token
   * embeddings are looked up without a whole float32 table.
   */
  rows(name: string, ids: readonly number[]): Float32Array;
  shapes: WeightShapes;
  close(): void;
}

/** How ModelWeights reads a checkpoint: fresh float32 values of a weight by canonical name, and of chosen rows of one. */
export interface WeightReader {
  read(name: string): Float32Array;
  readRows(name: string, ids: readonly number[]): Float32Array;
  close(): void;
}

/**
 * ModelWeights over `reader`. `shared` keeps only weak references: an array lives while a session or
 * graph holds it, and a later graph reads it again when none does (an accelerator's sessions copy
 * their weights to the device and drop the arrays).
 */
export function modelWeights(shapes: WeightShapes, reader: WeightReader): ModelWeights {
  const held = new Map<string, WeakRef<Float32Array>>();
  const read = (name: string) => reader.read(name);
  return {
    shapes,
    get: read,
    rows(name, ids) {
      const live = held.get(`stored:${name}`)?.deref();
      if (live === undefined) return reader.readRows(name, ids);
      const width = live.length / shapes.get(name)![0];
      const out = new Float32Array(ids.length * width);
      ids.forEach((id, i) => out.set(live.subarray(id * width, (id + 1) * width), i * width));
      return out;
    },
    shared(name, layout) {
      const key = `${layout}:${name}`;
      const live = held.get(key)?.deref();
      if (live !== undefined) return live;
      const shape = shapes.get(name);
      if (layout === 'matmul' && !(shape !== undefined && shape.length >= 2)) throw new Error(`weight "${name}" is [${shape?.join(', ') ?? '?'}], not a matrix to take in MatMul layout`);
      const values = read(name);
      const taken = layout === 'matmul' ? transpose(values, shape![0], values.length / shape![0]) : values;
      held.set(key, new WeakRef(taken));
      return taken;
    },
    close() {
      held.clear();
      reader.close();
    },
  };
}

/** The numbers of a list, short: "0, 1, 3, ... (40 in all)". */
const listed = (ns: number[]) => (ns.length <= 8 ? ns.join(', ') : `${ns.slice(0, 8).join(', ')}, ... (${ns.length} in all)`);

/**
 * config.json's layer counts and sizes (the family's sizeEvidence) against the checkpoint's tensor
 * names and shapes, which the safetensors headers give without reading a value: run before the
 * weights the config implies are even listed, so a config claiming a million layers or a vocabulary
 * of a billion fails at once, naming the key, its value and what the weights hold.
 */
function checkSizes(config: ModelConfig, family: ModelFamily, source: TensorSource, byCanonical: Map<string, string>): void {
  const bad = (key: string, message: string) => new ApiError('bad_input', `${config.file}: ${message}`, { file: config.file, key });
  const { layers, sizes } = family.sizeEvidence(config);
  for (const stack of layers) {
    const held = new Set<number>();
    let example: string | null = null;
    for (const [canonical, stored] of byCanonical) {
      const index = canonical.startsWith(stack.prefix) ? /^(\d+)\./.exec(canonical.slice(stack.prefix.length)) : null;
      if (index === null) continue;
      held.add(Number(index[1]));
      example ??= stored;
    }
    const found = [...held].sort((a, b) => a - b);
    const whole = found.every((n, i) => n === i);
    if (whole && found.length === stack.value) continue;
    const where = example === null ? `${stack.prefix}N` : example.replace(/^(.*layers\.)\d+\..*$/, '$1N');
    const holds = found.length === 0 ? 'no layers' : whole ? `layers 0..${found.length - 1}` : `layers ${listed(found)}`;
    throw bad(stack.key, `${stack.key} is ${stack.value} but the weights hold ${holds} (${where})`);
  }
  for (const size of sizes) {
    // A weight that is missing is named by the full check that follows.
    const stored = byCanonical.get(size.tensor);
    if (stored === undefined) continue;
    const shape = source.info(stored).shape;
    if (shape[size.dim] === size.expected) continue;
    const makes = size.makes === undefined ? '' : `, which makes ${size.expected} ${size.makes},`;
    throw bad(size.key, `${size.key} is ${size.value}${makes} but the weights hold ${shape[size.dim] ?? 'none'} (${stored} is [${shape.join(', ')}])`);
  }
}

/** Opens the checkpoint in `dir` and checks every expected weight is there, floating point, and
 *  of the shape the config implies; errors name the folder and the tensor (the config's sizes are
 *  checked first, from the tensors' names and shapes: checkSizes). Values load on demand. */
export function openWeights(dir: string, config: ModelConfig): ModelWeights {
  const family = familyOf(config);
  const source: TensorSource = openCheckpoint(dir);
  try {
    const byCanonical = new Map<string, string>();
    for (const name of source.names()) byCanonical.set(family.canonicalWeightName(name), name);
    checkSizes(config, family, source, byCanonical);
    const shapes = family.expectedWeights(config);
    const bad = (message: string, tensor: string) => new ApiError('bad_input', `${dir}: ${message}`, { file: dir, tensor });
    for (const [name, shape] of shapes) {
      const stored = byCanonical.get(name);
      if (!stored) throw bad(`weight "${name}" is missing (config.json implies shape [${shape.join(', ')}])`, name);
      const info = source.info(stored);
      if (!floatDtypes.includes(info.dtype)) {
        throw bad(`weight "${stored}" has dtype ${info.dtype}; model weights must be F32, F16, BF16 or F64`, stored);
      }
      if (info.shape.join(',') !== shape.join(',')) {
        throw bad(`weight "${stored}" has shape [${info.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`, stored);
      }
    }
    const unexpected = source.names().filter((stored) => {
      const name = family.canonicalWeightName(stored);
      return !shapes.has(name) && !family.ignoredWeight(name, config);
    });
    if (unexpected.length > 0) {
      const more = unexpected.length > 1 ? ` and ${unexpected.length - 1} more` : '';
      throw bad(`weight "${unexpected[0]}"${more} is not part of the model config.json describes (${config.file}): the weights are of another architecture or size, or config.json leaves out a key that adds them`, unexpected[0]);
    }
    const storedName = (name: string) => {
      const stored = byCanonical.get(name);
      if (!stored || !shapes.has(name)) throw new Error(`${dir}: no weight "${name}"`);
      return stored;
    };
    return modelWeights(shapes, {
      read: (name) => source.readAsFloat32(storedName(name)),
      readRows: (name, ids) => source.readRowsAsFloat32(storedName(name), ids),
      close: () => source.close(),
    });
  } catch (err) {
    source.close();
    throw err;
  }
}
