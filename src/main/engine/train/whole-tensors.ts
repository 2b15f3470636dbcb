// Whole tensors trained beside the adapters (PEFT's modules_to_save): the projector (LLaVA-OneVision)
// or connector (Idefics3) with `trainProjector`, the token embeddings and the output head with
// `trainEmbeddings`. Each is a graph input started from the checkpoint and saved back in torch's
// layout: the projector's matrices in MatMul layout (torch's [out, in] transposed, as nn.ts linear
// takes them), the embeddings and head as stored ([vocab, hidden], the head through Gemm's transB).
import type { ModelConfig } from '../model/config';
import { embeddingName, textWeightNames } from '../model/decoder';
import { familyOf } from '../model/families';
import { projectorWeightNames } from '../model/vision';
import { expectedWeights, transpose, type ModelWeights } from '../model/weights';
import type { TrainState } from './state';
import type { TrainConfig } from './train-config';

export interface WholeTensor {
  /** The checkpoint's (canonical) name, which is also the graph input's. */
  name: string;
  /** The graph input's dims. */
  dims: number[];
  /** Whether the graph holds it transposed from the checkpoint (a projector matrix). */
  transposed: boolean;
  /** PEFT's module name for modules_to_save. */
  module: string;
}

export type WholeTensorSettings = Pick<TrainConfig, 'trainProjector' | 'trainEmbeddings'>;

/** The projector's weights as trainable inputs, in MatMul layout. */
export function projectorParams(config: ModelConfig): WholeTensor[] {
  const shapes = expectedWeights(config);
  const module = familyOf(config).projectorModule;
  return projectorWeightNames(config).map((name) => {
    const dims = shapes.get(name)!;
    return dims.length === 2 ? { name, dims: [dims[1], dims[0]], transposed: true, module } : { name, dims, transposed: false, module };
  });
}

/** The token embeddings and, unless tied to them, the output head, as stored. */
export function embeddingParams(config: ModelConfig): WholeTensor[] {
  const { lmHead } = textWeightNames(config);
  const dims = [config.text.vocabSize, config.text.hiddenSize];
  const embeddings = { name: embeddingName(config), dims, transposed: false, module: 'embed_tokens' };
  return lmHead === null ? [embeddings] : [embeddings, { name: lmHead, dims, transposed: false, module: 'lm_head' }];
}

/** The whole tensors a run trains beside the adapters. */
export const wholeTensors = (config: ModelConfig, s: WholeTensorSettings): WholeTensor[] =>
  [...(s.trainProjector ? projectorParams(config) : []), ...(s.trainEmbeddings ? embeddingParams(config) : [])];

/** The PEFT modules_to_save of those tensors, each named once. */
export const modulesToSave = (tensors: readonly WholeTensor[]): string[] => [...new Set(tensors.map((t) => t.module))];

/** A whole tensor as training starts from it: the checkpoint's, in the graph's layout. */
export function initialValue(weights: ModelWeights, t: WholeTensor): Float32Array {
  const w = weights.get(t.name);
  return t.transposed ? transpose(w, t.dims[1], t.dims[0]) : Float32Array.from(w);
}

/** A whole tensor's trained value in the checkpoint's torch layout. */
export function trainedInTorchLayout(state: Pick<TrainState, 'params'>, t: WholeTensor): Float32Array {
  const p = state.params[t.name];
  return t.transposed ? transpose(p.data, p.dims[0], p.dims[1]) : p.data;
}
