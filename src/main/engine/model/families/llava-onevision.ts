// LLaVA-OneVision (model_type llava_onevision): SigLIP tower read at hidden_states[vision_feature_layer]
// (no post_layernorm), the two-layer GELU multi_modal_projector, each frame's grid pooled 2x2
// bilinearly and one image_newline after the video, a Qwen2 decoder. Follows transformers
// configuration_llava_onevision.py, modeling_llava_onevision.py (get_video_features, apply_pooling,
// LlavaOnevisionMultiModalProjector) and processing_llava_onevision.py (one <video> placeholder
// becomes frames * ceil(side/2)^2 + 1 video tokens). See docs/families.md.
import { ApiError } from '../../../../shared/errors';
import type { GraphBuilder } from '../../graph/builder';
import type { Value } from '../../graph/ir';
import { activations, linear } from '../../graph/nn';
import type { ModelConfig } from '../config';
import { configClasses, readActivation, readDecoderConfig, readVisionConfig, type Reader } from '../config-reader';
import { tokenizerStyles } from '../fixture-tokenizer';
import type { PromptVideo } from '../prompt';
import { bilinearMatrix, pooledSide, poolVideoFeatures, videoTokenCount } from '../video-pooling';
import { graphWeight, patchesPerSide, type WeightLoader, type WeightShapes } from '../weight-layout';
import type { ModelWeights } from '../weights';
import { ModelFamily, type FixturePreset } from './family';

export interface LlavaOnevisionConfig extends ModelConfig {
  imageTokenId: number;
  videoTokenId: number;
  /** Index into the tower's hidden states (-1: the last layer's output). */
  visionFeatureLayer: number;
  /** 'default' drops a CLS token; SigLIP has none, so OneVision uses 'full'. */
  visionFeatureSelectStrategy: 'full' | 'default';
  /** The activation between the projector's two linears (ACT2FN name; "gelu" as published). */
  projectorHiddenAct: string;
  /** multimodal_projector_bias: whether both linears have biases. */
  projectorBias: boolean;
}

/** What LlavaOnevisionConfig builds when config.json has no vision_config (its keys over SiglipVisionConfig's). */
const absentVisionConfig = { intermediate_size: 4096, hidden_size: 1024, patch_size: 14, image_size: 336, num_hidden_layers: 24, num_attention_heads: 16 };

/** transformers 5 saves LLaVA-OneVision under model.* and lm_head.*; both layouts load. */
const transformers5Layout: [RegExp, string][] = [
  [/^model\.language_model\./, 'language_model.model.'],
  [/^model\.vision_tower\./, 'vision_tower.'],
  [/^model\.multi_modal_projector\./, 'multi_modal_projector.'],
  [/^model\.image_newline$/, 'image_newline'],
  [/^lm_head\.weight$/, 'language_model.lm_head.weight'],
];

const fixture: FixturePreset = {
  tokenizerStyle: tokenizerStyles.chatml,
  configJson: ({ vision, text }, idOf, modelType) => ({
    architectures: ['LlavaOnevisionForConditionalGeneration'],
    model_type: modelType,
    image_token_index: idOf('<image>'),
    video_token_index: idOf('<video>'),
    projector_hidden_act: 'gelu',
    vision_feature_layer: -1,
    vision_feature_select_strategy: 'full',
    vision_aspect_ratio: 'anyres_max_9',
    image_grid_pinpoints: [[vision.image_size, vision.image_size]],
    tie_word_embeddings: false,
    torch_dtype: 'float32',
    text_config: { model_type: 'qwen2', rope_theta: 1000000, ...text },
    vision_config: { model_type: 'siglip_vision_model', vision_use_head: false, ...vision },
  }),
  processorFrom: 'llava-onevision-qwen2-0.5b-ov',
  preprocessorJson: (published, image) => ({ ...published, size: { height: image, width: image }, crop_size: { height: image, width: image } }),
};

export class LlavaOnevisionFamily extends ModelFamily<LlavaOnevisionConfig> {
  readonly id = 'llava-onevision';
  readonly modelTypes = ['llava_onevision'];
  readonly visionPrefix = 'vision_tower.vision_model.';
  readonly textPrefix = 'language_model.model.';
  readonly lmHeadName = 'language_model.lm_head.weight';
  readonly projectorModule = 'multi_modal_projector';
  readonly projectorOutputBias = 'multi_modal_projector.linear_2.bias';
  override readonly postLayerNorm = false;
  override readonly appendedVisualRows = 1;
  readonly placeholder = '<video>';
  override readonly fixture = fixture;

  /** LlavaOnevisionConfig: vision_config a SiglipVisionConfig (its own defaults where keys are left
   *  out; the class's CLIP-sized SigLIP where the whole section is), text_config a Qwen2Config. */
  readConfig(r: Reader): LlavaOnevisionConfig {
    const visionReader = r.section('vision_config', configClasses.siglip_vision_model, absentVisionConfig);
    visionReader.oneOf('model_type', ['siglip_vision_model'] as const, 'siglip_vision_model');
    const textReader = r.section('text_config', configClasses.qwen2);
    const featureLayer = r.int('vision_feature_layer', -1);
    const text = readDecoderConfig(textReader, textReader.oneOf('model_type', ['qwen2'] as const, 'qwen2'));
    const vision = readVisionConfig(visionReader);
    // Both checked here, by their keys: otherwise they fail only when the vision graph is built, mid-run.
    featureLayerIndex(vision.numLayers, featureLayer, r.file);
    const strategy = r.oneOf('vision_feature_select_strategy', ['full', 'default'] as const, 'full');
    if (strategy === 'default') r.only('vision_feature_select_strategy', ['full'], "\"default\" drops a token, so a frame's features form no patch grid to pool a video over, as in transformers' apply_pooling");
    return {
      arch: this.id,
      file: r.file,
      vision,
      text,
      imageTokenId: r.tokenId('image_token_index', 151646, text),
      videoTokenId: r.tokenId('video_token_index', 151647, text),
      visionFeatureLayer: featureLayer,
      visionFeatureSelectStrategy: strategy,
      projectorHiddenAct: readActivation(r, 'projector_hidden_act', 'gelu'),
      projectorBias: r.bool('multimodal_projector_bias', true),
    };
  }

  projectorWeights(config: LlavaOnevisionConfig): WeightShapes {
    const h = config.text.hiddenSize;
    const biases = (layer: string): [string, number[]][] => (config.projectorBias ? [[`multi_modal_projector.${layer}.bias`, [h]]] : []);
    return new Map([
      ['multi_modal_projector.linear_1.weight', [h, config.vision.hiddenSize]],
      ...biases('linear_1'),
      ['multi_modal_projector.linear_2.weight', [h, h]],
      ...biases('linear_2'),
    ]);
  }

  override extraWeights(config: LlavaOnevisionConfig): WeightShapes {
    return new Map([['image_newline', [config.text.hiddenSize]]]);
  }

  override canonicalWeightName(name: string): string {
    return transformers5Layout.reduce((n, [from, to]) => n.replace(from, to), name);
  }

  /** get_video_features reads hidden_states[vision_feature_layer] (index 0 is the embeddings
   *  output), so the layers after it are never run. */
  override visionLayersUsed(config: LlavaOnevisionConfig): number {
    return featureLayerIndex(config.vision.numLayers, config.visionFeatureLayer, config.file);
  }

  override selectTowerTokens(b: GraphBuilder, config: LlavaOnevisionConfig, tower: Value): Value {
    return config.visionFeatureSelectStrategy === 'default' ? b.slice(tower, [1], [patchesPerSide(config.vision) ** 2], [1]) : tower;
  }

  override towerTokensPerFrame(config: LlavaOnevisionConfig): number {
    return this.visionTokensPerFrame(config);
  }

  visionTokensPerFrame(config: LlavaOnevisionConfig): number {
    return patchesPerSide(config.vision) ** 2 - (config.visionFeatureSelectStrategy === 'default' ? 1 : 0);
  }

  visionGrid(config: LlavaOnevisionConfig): { rows: number; cols: number } {
    if (config.visionFeatureSelectStrategy === 'default') {
      // As in modeling_llava_onevision.py's apply_pooling, which cannot view them as a grid either.
      throw new ApiError('bad_input', `${config.file}: vision_feature_select_strategy "default" drops a token, so the ${this.visionTokensPerFrame(config)} features of a frame form no patch grid`, { file: config.file, key: 'vision_feature_select_strategy' });
    }
    const side = patchesPerSide(config.vision);
    return { rows: side, cols: side };
  }

  addProjector(b: GraphBuilder, config: LlavaOnevisionConfig, w: WeightLoader, tower: Value): Value {
    const d = config.vision.hiddenSize;
    const h = config.text.hiddenSize;
    return b.scope('multi_modal_projector', () => {
      const x = b.scope('linear_1', () => linear(b, tower, w.proj('multi_modal_projector.linear_1', d, h, config.projectorBias)));
      const act = b.scope('act', () => activations[config.projectorHiddenAct](b, x));
      return b.scope('linear_2', () => linear(b, act, w.proj('multi_modal_projector.linear_2', h, h, config.projectorBias)));
    });
  }

  /** The 2x2 bilinear pooling (one MatMul by bilinearMatrix) and one image_newline after each video's frames. */
  override addVisualRows(b: GraphBuilder, config: LlavaOnevisionConfig, weights: ModelWeights, projected: Value, frames: number): Value {
    const h = config.text.hiddenSize;
    return b.scope('video_pooling', () => {
      const side = this.visionGrid(config).rows;
      const out = pooledSide(side);
      const pool = b.constant('float32', [out * out, side * side], Array.from(bilinearMatrix(side, out)));
      const pooled = b.reshape(b.matmul(pool, projected), [-1, frames * out * out, h]);
      const newline = graphWeight(b, 'image_newline', [h], () => weights.shared('image_newline', 'stored'));
      const perVideo = b.expand(b.reshape(newline, [1, 1, h]), b.concat([b.shape(pooled, 0, 1), b.ints([1, h])], 0), [pooled.shape[0], 1, h]);
      return b.reshape(b.concat([pooled, perVideo], 1), [-1, h]);
    });
  }

  override visualRows(config: LlavaOnevisionConfig, weights: ModelWeights, perFrame: Float32Array, frames: number): Float32Array {
    return poolVideoFeatures(perFrame, frames, this.visionGrid(config).rows, config.text.hiddenSize, weights.get('image_newline'));
  }

  promptGrid(config: LlavaOnevisionConfig): number {
    return pooledSide(patchesPerSide(config.vision));
  }

  visualTokenId(config: LlavaOnevisionConfig): number {
    return config.videoTokenId;
  }

  expandPlaceholder(config: LlavaOnevisionConfig, video: PromptVideo): string {
    return this.placeholder.repeat(videoTokenCount(video.frames, patchesPerSide(config.vision)));
  }
}

/** hidden_states[vision_feature_layer] as an index from 0 (the embeddings' output) to `layers`. */
function featureLayerIndex(layers: number, index: number, file: string): number {
  const resolved = index < 0 ? layers + 1 + index : index;
  if (resolved < 0 || resolved > layers) {
    throw new ApiError('bad_input', `${file}: vision_feature_layer ${index} is outside the tower's ${layers + 1} hidden states (${-(layers + 1)}..${layers})`, { file, key: 'vision_feature_layer' });
  }
  return resolved;
}
