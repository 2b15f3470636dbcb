// What a model family is: one class per architecture, as onnxruntime-genai's model builder and
// transformers.js have, over the shared pieces (the SigLIP tower in siglip.ts, the Qwen2 / Llama
// decoder in decoder.ts, the weight shapes in weight-layout.ts). The base class holds what a SigLIP
// tower + connector + decoder family does unless it says otherwise; a family overrides only what
// differs. Code outside families/ asks the family (families/index.ts: familyOf) and never tests
// which family it has.
import type { GraphBuilder } from '../../graph/builder';
import type { Value } from '../../graph/ir';
import type { ModelConfig } from '../config';
import type { Json, Reader } from '../config-reader';
import type { TokenizerStyle } from '../fixture-tokenizer';
import { positionIds } from '../position-ids';
import type { PromptVideo } from '../prompt';
import type { ChatMessage, ChatTemplateText } from '../tokenizer';
import {
  decoderEvidence, decoderShapes, patchesPerSide, siglipTowerEvidence, siglipTowerShapes,
  type LayerEvidence, type SizeEvidence, type WeightLoader, type WeightShapes,
} from '../weight-layout';
import type { ModelWeights } from '../weights';

/** How the studio writes a fixture folder of the family (fixture.ts): its tokenizer's special tokens
 *  and chat template, and the family's own keys of config.json and preprocessor_config.json. */
export interface FixturePreset {
  tokenizerStyle: TokenizerStyle;
  /** config.json from the sections every family shares (`vision_config`, `text_config` keys),
   *  the tokenizer's special token ids, and the model_type to write (the family's first). */
  configJson(sections: { vision: Json; text: Json }, idOf: (token: string) => number, modelType: string): Json;
  /** The published checkpoint (a checkpoint-presets.ts id) whose preprocessor_config.json the fixture writes. */
  processorFrom: string;
  /** That file with its size keys set for frames of `image` pixels a side, every other key as published. */
  preprocessorJson(published: Json, image: number): Json;
}

export abstract class ModelFamily<C extends ModelConfig = ModelConfig> {
  /** config.arch and the studio's models.family, e.g. 'llava-onevision'. */
  abstract readonly id: string;
  /** The config.json model_type values the family reads, e.g. ['idefics3', 'smolvlm']. */
  abstract readonly modelTypes: readonly string[];

  // --- config.json -------------------------------------------------------------------------------

  /** config.json (model_type one of modelTypes) in the family's typed shape, with transformers' defaults. */
  abstract readConfig(r: Reader, modelType: string): C;

  // --- weights -----------------------------------------------------------------------------------

  /** Where the SigLIP tower's weights live, e.g. 'model.vision_model.'. */
  abstract readonly visionPrefix: string;
  /** Where the decoder's weights live and its untied head's name. */
  abstract readonly textPrefix: string;
  abstract readonly lmHeadName: string;
  /** The connector's PEFT module name (modules_to_save when it is trained), e.g. 'connector'. */
  abstract readonly projectorModule: string;
  /** The bias on the connector's output, which shifts every visual row (null: it has none). */
  abstract readonly projectorOutputBias: string | null;

  /** Where the text model's weights live (lmHead null: the head is the tied embedding matrix). */
  textWeights(config: C): { prefix: string; lmHead: string | null } {
    return { prefix: this.textPrefix, lmHead: config.text.tieWordEmbeddings ? null : this.lmHeadName };
  }

  /** The connector's weights (what training the projector trains), torch layout, in checkpoint order. */
  abstract projectorWeights(config: C): WeightShapes;

  /** Weights of the family's own besides tower, connector and decoder (e.g. image_newline). */
  extraWeights(_config: C): WeightShapes {
    return new Map();
  }

  /** Every weight, in checkpoint order (fixtures draw their random values in this order). */
  expectedWeights(config: C): WeightShapes {
    const out: WeightShapes = new Map();
    siglipTowerShapes(out, this.visionPrefix, config.vision);
    for (const part of [this.projectorWeights(config), this.extraWeights(config)]) for (const [name, shape] of part) out.set(name, shape);
    decoderShapes(out, this.textPrefix, this.lmHeadName, config.text);
    return out;
  }

  /** What config.json says that the checkpoint's tensor names and shapes show too (layer counts, sizes):
   *  weights.ts checks it from the headers before listing expectedWeights, so a config claiming a
   *  million layers is refused at once, naming its key. A family with parts of its own adds theirs. */
  sizeEvidence(config: C): { layers: LayerEvidence[]; sizes: SizeEvidence[] } {
    const tower = siglipTowerEvidence(this.visionPrefix, config.vision);
    const decoder = decoderEvidence(this.textPrefix, config.text);
    return { layers: [decoder.layers, tower.layers], sizes: [...decoder.sizes, ...tower.sizes] };
  }

  /** Stored weights (by canonical name) the model class holds, or older checkpoints carry, that no
   *  output depends on, which loading skips: rotary inv_freq buffers, a head that a tied config
   *  replaces by the embedding, SigLIP's pooling head (vision_use_head). Anything else unexpected is refused. */
  ignoredWeight(name: string, config: C): boolean {
    return name.endsWith('.rotary_emb.inv_freq') || (config.text.tieWordEmbeddings && name === this.lmHeadName) || name.startsWith(`${this.visionPrefix}head.`);
  }

  /** A stored weight's name in the layout expectedWeights uses (other layouts the family's checkpoints come in). */
  canonicalWeightName(name: string): string {
    return name;
  }

  // --- vision graph ------------------------------------------------------------------------------

  /** Encoder layers the features need: hidden_states[n] is what the connector reads. */
  visionLayersUsed(config: C): number {
    return config.vision.numLayers;
  }

  /** Whether post_layernorm follows the tower's last layer run. */
  readonly postLayerNorm: boolean = true;

  /** The tower rows that reach the connector [frames, towerTokensPerFrame, vision hidden]. */
  selectTowerTokens(_b: GraphBuilder, _config: C, tower: Value): Value {
    return tower;
  }

  towerTokensPerFrame(config: C): number {
    return patchesPerSide(config.vision) ** 2;
  }

  /** Feature rows per frame the connector outputs. */
  abstract visionTokensPerFrame(config: C): number;

  /** The patch grid of one frame's connector output rows (row-major). */
  abstract visionGrid(config: C): { rows: number; cols: number };

  /** The connector on selected tower rows [frames, towerTokensPerFrame, vision hidden], giving
   *  [frames, visionTokensPerFrame, text hidden]; its nodes scoped under projectorModule. */
  abstract addProjector(b: GraphBuilder, config: C, w: WeightLoader, tower: Value): Value;

  // --- visual rows -------------------------------------------------------------------------------

  /** A prompt's visual rows [videos * rowsPerVideo, text hidden] from connector output of whole
   *  videos of `frames` frames: in-graph, so training can differentiate it. */
  addVisualRows(b: GraphBuilder, config: C, _weights: ModelWeights, projected: Value, _frames: number): Value {
    return b.reshape(projected, [-1, config.text.hiddenSize]);
  }

  /** The same on the host, for one video's connector output [frames, visionTokensPerFrame, text hidden]. */
  visualRows(_config: C, _weights: ModelWeights, perFrame: Float32Array, _frames: number): Float32Array {
    return perFrame;
  }

  /** Rows at the end of a video's visual rows that are weights of their own, not connector output. */
  readonly appendedVisualRows: number = 0;

  // --- prompt ------------------------------------------------------------------------------------

  /** The text the chat template writes for the video, which the visual tokens replace. */
  abstract readonly placeholder: string;

  /** The per-frame grid side of visual tokens in the prompt. */
  abstract promptGrid(config: C): number;

  /** The template the family's processor renders these messages with instead of the folder's (null: the folder's). */
  chatTemplate(_messages: ChatMessage[]): ChatTemplateText | null {
    return null;
  }

  /** The messages as the family's processor gives them to the chat template. */
  promptMessages(messages: ChatMessage[], _frames: number): ChatMessage[] {
    return messages;
  }

  /** How many placeholders a video of `frames` frames leaves in the rendered template. */
  placeholdersFor(_frames: number): number {
    return 1;
  }

  /** The token id the visual features replace. */
  abstract visualTokenId(config: C): number;

  /** The text one placeholder becomes for the video, as the processor expands it: each frame's
   *  promptGrid^2 visual tokens in one run (appendedVisualRows more after the last frame's). */
  abstract expandPlaceholder(config: C, video: PromptVideo): string;

  // --- positions ---------------------------------------------------------------------------------

  /** RoPE position ids [rows, seq] of a padded batch: 1-D positions (position-ids.ts) unless the
   *  family's decoder says otherwise (a Qwen2-VL would return its M-RoPE ids here). */
  positionIds(lengths: readonly number[], seq: number, padding: 'left' | 'right'): BigInt64Array {
    return positionIds(lengths, seq, padding);
  }

  // --- fixtures ----------------------------------------------------------------------------------

  /** How fixture.ts writes a folder of the family; null where the studio writes none. */
  readonly fixture: FixturePreset | null = null;
}
