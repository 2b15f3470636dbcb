// The projector (LLaVA-OneVision) or connector (Idefics3) trained as whole tensors beside the
// adapters: graph inputs in MatMul layout (torch's [out, in] transposed, as nn.ts linear takes
// them), started from the checkpoint and saved back in torch's layout.
import type { ModelConfig } from '../model/config';
import { projectorWeightNames } from '../model/vision';
import { expectedWeights, transpose, type ModelWeights } from '../model/weights';
import type { TrainState } from './state';

/** The projector's weights as trainable inputs: names and MatMul-layout dims. */
export function projectorParams(config: ModelConfig): [string, number[]][] {
  const shapes = expectedWeights(config);
  return projectorWeightNames(config).map((name) => {
    const dims = shapes.get(name)!;
    return [name, dims.length === 2 ? [dims[1], dims[0]] : dims];
  });
}

/** The whole tensors a run trains beside the adapters: the projector's when it is trained, else none. */
export const wholeTensorParams = (config: ModelConfig, trainProjector: boolean): string[] =>
  trainProjector ? projectorParams(config).map(([name]) => name) : [];

/** A projector weight as training starts from it: the checkpoint's, in MatMul layout. */
export function initialProjectorParam(config: ModelConfig, weights: ModelWeights, name: string): Float32Array {
  const entry = projectorParams(config).find(([n]) => n === name);
  if (!entry) throw new Error(`'${name}' is not a projector weight of this model`);
  const [, dims] = entry;
  const w = weights.get(name);
  return dims.length === 2 ? transpose(w, dims[1], dims[0]) : Float32Array.from(w);
}

/** A projector weight's trained value in the checkpoint's torch layout. */
export function trainedInTorchLayout(state: Pick<TrainState, 'params'>, name: string): Float32Array {
  const t = state.params[name];
  return t.dims.length === 2 ? transpose(t.data, t.dims[0], t.dims[1]) : t.data;
}
