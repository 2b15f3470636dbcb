// The policy's forward as a graph: embeddings -> decoder (with the adapters) -> summed response
// log-probs -> the DPO-family or SFT loss. With the projector trained its weights are graph inputs
// and its rows are added into the embeddings inside the graph; otherwise embeddings come in whole
// (collator.ts) and the vision side stays out of the graph.
import type { GraphBuilder } from '../graph/builder';
import { addDecoder, type AdapterProvider } from '../model/decoder';
import { addVisualRows, towerTokensPerFrame } from '../model/vision';
import { sequenceLogps, type SequenceLogps } from './logprobs';
import { dpoLoss, sftLoss } from './losses';
import { embeddingParams, projectorParams } from './whole-tensors';
import type { TrainableModel, TrainConfig } from './train-config';
import type { ForwardFn } from './train-step';

/** The data inputs of the forward, which the collator feeds. */
export const trainInputs = {
  tower: 'visual_tower', visualIndex: 'visual_index', embeds: 'inputs_embeds', ids: 'input_ids', textMask: 'text_mask', mask: 'attention_mask', positions: 'position_ids',
  logitsPositions: 'logits_positions', labels: 'labels', lossMask: 'loss_mask', refChosen: 'ref_chosen_logps', refRejected: 'ref_rejected_logps',
} as const;

type GraphModel = Pick<TrainableModel, 'config' | 'weights'>;

/**
 * The decoder from embeddings to per-row response log-probs, emitted into `b`. Logits are computed
 * only at `logits_positions` (the batch's window of positions that predict a response token,
 * collator.ts): over a long video prompt the other rows would be most of the step's memory, each
 * as wide as the vocabulary. With `projectorFrames` (frames per video) the projector is in the
 * graph, its weights as inputs.
 */
export function addResponseLogps(b: GraphBuilder, model: GraphModel, options: { adapter?: AdapterProvider; projectorFrames?: number; embeddings?: boolean } = {}): SequenceLogps {
  const { config, weights } = model;
  const h = config.text.hiddenSize;
  let embeds = b.input(trainInputs.embeds, 'float32', ['batch', 'seq', h]);
  if (options.embeddings === true) {
    // The embedding matrix and head are inputs (addDecoder then uses them); text positions gather
    // their rows here, and `inputs_embeds` holds only the visual rows (text_mask 0 there).
    const [table] = embeddingParams(config).map((t) => b.input(t.name, 'float32', t.dims));
    const ids = b.input(trainInputs.ids, 'int64', ['batch', 'seq']);
    const textMask = b.input(trainInputs.textMask, 'float32', ['batch', 'seq', 1]);
    embeds = b.add(embeds, b.mul(b.scope('model', () => b.scope('embed_tokens', () => b.gather(table, ids, 0))), textMask));
  }
  if (options.projectorFrames !== undefined) {
    // The projector's weights are inputs (declared before addProjector, which then uses them);
    // its output rows are gathered into the prompts' visual positions (index 0: no visual row).
    for (const { name, dims } of projectorParams(config)) b.input(name, 'float32', dims);
    const v = config.vision;
    const tower = b.input(trainInputs.tower, 'float32', ['video_frames', towerTokensPerFrame(config), v.hiddenSize]);
    const index = b.input(trainInputs.visualIndex, 'int64', ['batch', 'seq']);
    const frames = options.projectorFrames;
    const rows = b.scope('visual', () => addVisualRows(b, config, weights, tower, frames));
    const table = b.concat([b.constant('float32', [1, h], new Array<number>(h).fill(0)), rows], 0);
    embeds = b.add(embeds, b.gather(table, index, 0));
  }
  const mask = b.input(trainInputs.mask, 'int64', ['batch', 'seq']);
  const positions = b.input(trainInputs.positions, 'int64', ['batch', 'seq']);
  const logitsPositions = b.input(trainInputs.logitsPositions, 'int64', ['rows']);
  const labels = b.input(trainInputs.labels, 'int64', ['batch', 'rows']);
  const lossMask = b.input(trainInputs.lossMask, 'float32', ['batch', 'rows']);
  const { logits } = addDecoder(b, config, weights, { inputsEmbeds: embeds, attentionMask: mask, positionIds: positions }, { adapter: options.adapter, logitsPositions });
  return sequenceLogps(b, logits, labels, lossMask);
}

/**
 * The training loss over a batch in TRL's concatenated layout (rows [0, P) chosen, [P, 2P)
 * rejected, against the reference log-probs fed beside them), or SFT's over its rows.
 * `frames`: frames per video of the tower features (0 when the projector is frozen).
 */
export function policyForward(model: GraphModel, settings: TrainConfig, frames: number): ForwardFn {
  const s = settings;
  return (b, lora) => {
    const logps = addResponseLogps(b, model, { adapter: lora, embeddings: s.trainEmbeddings, ...(s.trainProjector ? { projectorFrames: frames } : {}) });
    // One segment per decoder layer: the scopes addDecoder gives them.
    const checkpoints = s.gradientCheckpointing ? Array.from({ length: model.config.text.numLayers }, (_, l) => `/model/layers.${l}/`) : [];
    if (s.loss === 'sft') return { loss: sftLoss(b, logps), metrics: {}, checkpoints };
    const [policyChosen, policyRejected] = b.split(logps.sum, 2, 0);
    const [chosenLength, rejectedLength] = b.split(logps.count, 2, 0);
    const refChosen = b.input(trainInputs.refChosen, 'float32', ['pairs']);
    const refRejected = b.input(trainInputs.refRejected, 'float32', ['pairs']);
    const chosenNll = s.sftWeight ? sftLoss(b, { sum: policyChosen, count: chosenLength }) : undefined;
    const { loss, metrics } = dpoLoss(b, { policyChosen, policyRejected, refChosen, refRejected, chosenLength, rejectedLength, chosenNll }, {
      loss: s.loss, beta: s.beta, labelSmoothing: s.labelSmoothing, sftWeight: s.sftWeight, lengthPenalty: s.lengthPenalty,
    });
    return { loss, metrics, checkpoints };
  };
}
