// The vision side of a model as one ONNX graph: pixel_values [frames, 3, S, S] in, image_features
// [frames, tokens, text hidden] out (before any pooling of the family's visual rows, which
// visualRows does after the graph). The SigLIP tower is shared (siglip.ts); which hidden state it
// stops at, whether post_layernorm follows, which rows reach the connector and the connector itself
// are the family's (families/). Numerics follow transformers; the family modules name the files.
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../graph/builder';
import type { Graph, Value } from '../graph/ir';
import { Session, type SessionOptions } from '../graph/session';
import type { ModelConfig } from './config';
import { familyOf } from './families';
import { addSiglipTower } from './siglip';
import { weightLoader } from './weight-layout';
import type { ModelWeights } from './weights';

/** Where the vision tower's weights live in the family's checkpoint (docs/families.md). */
export const visionWeightPrefix = (config: ModelConfig): string => familyOf(config).visionPrefix;

/** Feature rows per frame the graph outputs (before the family's pooling of visual rows, if any). */
export const visionTokensPerFrame = (config: ModelConfig): number => familyOf(config).visionTokensPerFrame(config);

/** The patch grid of one frame's output rows (row-major). */
export const visionGrid = (config: ModelConfig): { rows: number; cols: number } => familyOf(config).visionGrid(config);

/** The projector's (connector's) weights, by their checkpoint names. */
export const projectorWeightNames = (config: ModelConfig): string[] => [...familyOf(config).projectorWeights(config).keys()];

/** Rows of the tower's output per frame that reach the projector (after the family's selection). */
export const towerTokensPerFrame = (config: ModelConfig): number => familyOf(config).towerTokensPerFrame(config);

/**
 * The family's projector / connector on the tower's selected features [frames, towerTokensPerFrame,
 * vision hidden], giving [frames, visionTokensPerFrame, text hidden]. Composable, so training can
 * put it in its graph.
 */
export function addProjector(b: GraphBuilder, config: ModelConfig, weights: ModelWeights, tower: Value): Value {
  return familyOf(config).addProjector(b, config, weightLoader(b, weights), tower);
}

/**
 * A prompt's visual rows made in-graph from tower features of whole videos of `frames` frames each,
 * [videos * frames, towerTokensPerFrame, vision hidden] -> [videos * rowsPerVideo, text hidden], in
 * the order prompts take them: the projector, then the family's visual rows (LLaVA-OneVision's
 * pooling and image_newline). What VisionEncoder plus the family's visualRows compute on the host,
 * as a differentiable graph for training the projector.
 */
export function addVisualRows(b: GraphBuilder, config: ModelConfig, weights: ModelWeights, tower: Value, frames: number): Value {
  return familyOf(config).addVisualRows(b, config, weights, addProjector(b, config, weights, tower), frames);
}

/** 'features': through the projector (what prompts take); 'tower': the tower's selected output,
 *  what training the projector starts from. */
export type VisionStage = 'features' | 'tower';
export const TOWER_OUTPUT = 'tower_features';

/** The vision graph: pixel_values [frames, 3, S, S] to image_features [frames, visionTokensPerFrame, text hidden]
 *  (or, at stage 'tower', tower_features [frames, towerTokensPerFrame, vision hidden]). */
export function buildVisionGraph(config: ModelConfig, weights: ModelWeights, stage: VisionStage = 'features'): Graph {
  const family = familyOf(config);
  const v = config.vision;
  const d = v.hiddenSize;
  const layers = family.visionLayersUsed(config);
  const tokens = family.visionTokensPerFrame(config);
  const b = new GraphBuilder('vision');
  const w = weightLoader(b, weights);
  const pixels = b.input('pixel_values', 'float32', ['frames', 3, v.imageSize, v.imageSize]);
  const tower = addSiglipTower(b, v, w, pixels, { prefix: family.visionPrefix, layers, postLayerNorm: family.postLayerNorm });
  const selected = family.selectTowerTokens(b, config, tower);
  if (stage === 'tower') {
    b.output(b.node('Identity', [selected], {}, { outNames: [TOWER_OUTPUT], outShapes: [['frames', family.towerTokensPerFrame(config), d]] })[0]);
    return b.build();
  }
  const features = family.addProjector(b, config, w, selected);
  const textHidden = config.text.hiddenSize;
  b.output(b.node('Identity', [features], {}, { outNames: ['image_features'], outShapes: [['frames', tokens, textHidden]] })[0]);
  return b.build();
}

/** The vision graph in an ONNX Runtime session, run over frames in chunks to bound memory. */
export class VisionEncoder {
  private constructor(
    private readonly session: Session,
    private readonly imageSize: number,
    readonly tokensPerFrame: number,
    readonly hiddenSize: number,
    private readonly output: string,
  ) {}

  static async create(config: ModelConfig, weights: ModelWeights, options: Omit<SessionOptions, 'graphName'> = {}, stage: VisionStage = 'features'): Promise<VisionEncoder> {
    const graphName = stage === 'tower' ? 'vision_tower' : 'vision';
    const session = await Session.create(buildVisionGraph(config, weights, stage), { ...options, graphName });
    return stage === 'tower'
      ? new VisionEncoder(session, config.vision.imageSize, towerTokensPerFrame(config), config.vision.hiddenSize, TOWER_OUTPUT)
      : new VisionEncoder(session, config.vision.imageSize, visionTokensPerFrame(config), config.text.hiddenSize, 'image_features');
  }

  /** pixel_values [frames, 3, S, S] to features [frames, tokensPerFrame, hiddenSize], `chunk` frames per run:
   *  one by default, which holds an eighth of the activations of eight at the same speed (BENCHMARKS.md). */
  async encode(pixelValues: Float32Array, frames: number, chunk = 1): Promise<Float32Array> {
    const s = this.imageSize;
    const perFrame = 3 * s * s;
    if (!(Number.isInteger(frames) && frames >= 0)) throw new Error(`frames must be a whole number, got ${frames}`);
    if (!(Number.isInteger(chunk) && chunk > 0)) throw new Error(`chunk must be a positive whole number, got ${chunk}`);
    if (pixelValues.length !== frames * perFrame) {
      throw new Error(`pixel_values has ${pixelValues.length} values; ${frames} frames of [3, ${s}, ${s}] need ${frames * perFrame}`);
    }
    const rowFloats = this.tokensPerFrame * this.hiddenSize;
    const out = new Float32Array(frames * rowFloats);
    for (let f = 0; f < frames; f += chunk) {
      const n = Math.min(chunk, frames - f);
      const input = new ort.Tensor('float32', pixelValues.subarray(f * perFrame, (f + n) * perFrame), [n, 3, s, s]);
      const result = await this.session.run({ pixel_values: input });
      out.set(result[this.output].data as Float32Array, f * rowFloats);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
