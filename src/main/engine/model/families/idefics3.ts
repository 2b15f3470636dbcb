// Idefics3 / SmolVLM (model_type idefics3; SmolVLM2's smolvlm is smolvlm.ts over this): SigLIP tower with post_layernorm, the
// connector (pixel shuffle by scale_factor, then modality_projection.proj without bias), each frame
// given to the prompt as an image of its own, a Llama decoder. Follows transformers
// configuration_idefics3.py, modeling_idefics3.py (Idefics3VisionTransformer, Idefics3Connector)
// and processing_idefics3.py (each <image> becomes
// <fake_token_around_image><global-img><image>*n<fake_token_around_image> with n = (side / scale_factor)^2,
// get_image_prompt_string without splitting). See docs/families.md.
import type { GraphBuilder } from '../../graph/builder';
import type { Value } from '../../graph/ir';
import { linear } from '../../graph/nn';
import type { ModelConfig } from '../config';
import { configClasses, readDecoderConfig, readVisionConfig, type ConfigDefaults, type Reader } from '../config-reader';
import { tokenizerStyles } from '../fixture-tokenizer';
import type { PromptVideo } from '../prompt';
import type { ChatMessage, ContentPart } from '../tokenizer';
import { ApiError } from '../../../../shared/errors';
import { patchesPerSide, type LayerEvidence, type SizeEvidence, type WeightLoader, type WeightShapes } from '../weight-layout';
import { ModelFamily, type FixturePreset } from './family';

export interface Idefics3Config extends ModelConfig {
  /** 'idefics3' or 'smolvlm' (SmolVLM reuses Idefics3's modelling). */
  modelType: string;
  imageTokenId: number;
  scaleFactor: number;
}

const connectorProj = 'model.connector.modality_projection.proj';

export const idefics3Fixture: FixturePreset = {
  tokenizerStyle: tokenizerStyles.idefics3,
  configJson: ({ vision, text }, idOf, modelType) => ({
    architectures: ['Idefics3ForConditionalGeneration'],
    model_type: modelType,
    image_token_id: idOf('<image>'),
    scale_factor: 2,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
    text_config: { model_type: 'llama', rope_theta: 100000, ...text },
    vision_config: { model_type: 'idefics3_vision', ...vision },
  }),
  processorFrom: 'smolvlm-256m',
  // As published, the longest edge first goes to 4x the tower's square (2048 for 512).
  preprocessorJson: (published, image) => ({ ...published, size: { longest_edge: 4 * image }, max_image_size: { longest_edge: image } }),
};

export class Idefics3Family extends ModelFamily<Idefics3Config> {
  readonly id: string = 'idefics3';
  readonly modelTypes: readonly string[] = ['idefics3'];
  readonly visionPrefix: string = 'model.vision_model.';
  readonly textPrefix: string = 'model.text_model.';
  readonly lmHeadName: string = 'lm_head.weight';
  readonly projectorModule = 'connector';
  readonly projectorOutputBias = null;
  readonly placeholder: string = '<image>';
  override readonly fixture: FixturePreset | null = idefics3Fixture;

  /** Idefics3Config: vision_config this class's own (Idefics3VisionConfig, whatever its model_type
   *  says), text_config a LlamaConfig, or LlamaConfig(rms_norm_eps=1e-5) where it is left out. */
  readConfig(r: Reader, modelType: string): Idefics3Config {
    const textReader = r.section('text_config', configClasses.llama, { rms_norm_eps: 1e-5 });
    const text = readDecoderConfig(textReader, textReader.oneOf('model_type', ['llama'] as const, 'llama'));
    return {
      arch: this.id,
      modelType,
      file: r.file,
      vision: readVisionConfig(r.section('vision_config', this.visionDefaults)),
      text,
      imageTokenId: r.tokenId('image_token_id', 128257, text),
      scaleFactor: r.positiveInt('scale_factor', 2),
    };
  }

  /** The vision config class's defaults. */
  protected readonly visionDefaults: ConfigDefaults = configClasses.idefics3_vision;

  /** scale_factor too, from the connector's input features (vision hidden_size x scale_factor^2):
   *  otherwise a wrong one shows only as the connector weight's shape, naming no key. */
  override sizeEvidence(config: Idefics3Config): { layers: LayerEvidence[]; sizes: SizeEvidence[] } {
    const { layers, sizes } = super.sizeEvidence(config);
    const s = config.scaleFactor;
    return { layers, sizes: [...sizes, { key: 'scale_factor', value: s, tensor: `${connectorProj}.weight`, dim: 1, expected: config.vision.hiddenSize * s * s, makes: `connector input features (vision_config.hidden_size ${config.vision.hiddenSize} x ${s}^2)` }] };
  }

  projectorWeights(config: Idefics3Config): WeightShapes {
    return new Map([[`${connectorProj}.weight`, [config.text.hiddenSize, config.vision.hiddenSize * config.scaleFactor ** 2]]]);
  }

  /** Side of the grid the connector leaves: the pixel shuffle merges scale x scale patches into one token. */
  private shuffledSide(config: Idefics3Config): number {
    const side = patchesPerSide(config.vision);
    if (side % config.scaleFactor !== 0) {
      throw new ApiError('bad_input', `${config.file}: ${side} patches per side cannot be pixel-shuffled by scale_factor ${config.scaleFactor}`, { file: config.file, key: 'scale_factor' });
    }
    return side / config.scaleFactor;
  }

  visionTokensPerFrame(config: Idefics3Config): number {
    return this.shuffledSide(config) ** 2;
  }

  visionGrid(config: Idefics3Config): { rows: number; cols: number } {
    const side = this.shuffledSide(config);
    return { rows: side, cols: side };
  }

  addProjector(b: GraphBuilder, config: Idefics3Config, w: WeightLoader, tower: Value): Value {
    const s = config.scaleFactor;
    const d = config.vision.hiddenSize;
    const out = this.shuffledSide(config);
    return b.scope('connector', () => {
      // Token (Y, X) = (I*s + a, J*s + c) goes to token (I, J), channels (a, c, :): what the view /
      // permute / reshape chain of Idefics3Connector.pixel_shuffle amounts to.
      const shuffled = b.scope('pixel_shuffle', () => {
        const blocks = b.reshape(tower, [0, out, s, out, s, d]);
        return b.reshape(b.transpose(blocks, [0, 1, 3, 2, 4, 5]), [0, out * out, s * s * d]);
      });
      return b.scope('modality_projection', () => b.scope('proj', () => linear(b, shuffled, w.proj(connectorProj, s * s * d, config.text.hiddenSize, false))));
    });
  }

  promptGrid(config: Idefics3Config): number {
    return patchesPerSide(config.vision) / config.scaleFactor;
  }

  /** The frames go in as that many images. */
  override promptMessages(messages: ChatMessage[], frames: number): ChatMessage[] {
    return messages.map((m) =>
      typeof m.content === 'string' ? m : { ...m, content: m.content.flatMap((p): ContentPart[] => (p.type === 'video' ? Array.from({ length: frames }, () => ({ type: 'image' })) : [p])) },
    );
  }

  override placeholdersFor(frames: number): number {
    return frames;
  }

  visualTokenId(config: Idefics3Config): number {
    return config.imageTokenId;
  }

  /** One frame: an image without splitting (_prompt_single_image). */
  expandPlaceholder(config: Idefics3Config, _video: PromptVideo): string {
    return this.frameImage(config);
  }

  /** <fake_token_around_image><global-img><image>*n<fake_token_around_image>, n = promptGrid^2. */
  protected frameImage(config: Idefics3Config): string {
    const around = '<fake_token_around_image>';
    return `${around}<global-img>${'<image>'.repeat(this.promptGrid(config) ** 2)}${around}`;
  }
}
