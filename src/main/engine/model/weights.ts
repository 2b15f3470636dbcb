// Every weight a model folder of a supported family must hold, with the shape its config implies,
// under the names the Hugging Face checkpoints use (the family's module lists them); and loading
// that checks them against the files, accepting the other layouts a family's checkpoints come in.
import type { Dtype, TensorSource } from '../graph/safetensors';
import { openCheckpoint } from '../graph/safetensors';
import type { ModelConfig } from './config';
import { familyOf } from './families';
import type { WeightShapes } from './weight-layout';

export { graphWeight, patchesPerSide, transpose, type WeightShapes } from './weight-layout';

/** The weights of `config`'s family, under the names its published checkpoints use. */
export function expectedWeights(config: ModelConfig): WeightShapes {
  return familyOf(config).expectedWeights(config);
}

const floatDtypes: readonly Dtype[] = ['F32', 'F16', 'BF16', 'F64'];

export interface ModelWeights {
  /** Float32 values of a weight by its canonical name (the family's published layout). */
  get(name: string): Float32Array;
  shapes: WeightShapes;
  close(): void;
}

/** Opens the checkpoint in `dir` and checks every expected weight is there, floating point, and
 *  of the shape the config implies; errors name the folder and the tensor. Values load on demand. */
export function openWeights(dir: string, config: ModelConfig): ModelWeights {
  const family = familyOf(config);
  const shapes = family.expectedWeights(config);
  const source: TensorSource = openCheckpoint(dir);
  try {
    const byCanonical = new Map<string, string>();
    for (const name of source.names()) byCanonical.set(family.canonicalWeightName(name), name);
    for (const [name, shape] of shapes) {
      const stored = byCanonical.get(name);
      if (!stored) throw new Error(`${dir}: weight "${name}" is missing (config.json implies shape [${shape.join(', ')}])`);
      const info = source.info(stored);
      if (!floatDtypes.includes(info.dtype)) {
        throw new Error(`${dir}: weight "${stored}" has dtype ${info.dtype}; model weights must be F32, F16, BF16 or F64`);
      }
      if (info.shape.join(',') !== shape.join(',')) {
        throw new Error(`${dir}: weight "${stored}" has shape [${info.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`);
      }
    }
    return {
      shapes,
      get(name) {
        const stored = byCanonical.get(name);
        if (!stored || !shapes.has(name)) throw new Error(`${dir}: no weight "${name}"`);
        return source.readAsFloat32(stored);
      },
      close: () => source.close(),
    };
  } catch (err) {
    source.close();
    throw err;
  }
}
