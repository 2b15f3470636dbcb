// A video language model loaded from its Hugging Face folder: config, tokenizer and chat template,
// preprocessing, the vision tower and the decoder as ONNX Runtime sessions. What the method layer
// calls to describe, answer and judge; it knows nothing of where frames come from.
import { createHash } from 'node:crypto';
import { ApiError } from '../../../shared/errors';
import type { SessionOptions } from '../graph/session';
import { attentionOverKeys, foldVisual } from '../generate/attention';
import { generate, type GenerateOptions, type Generation } from '../generate/generate';
import { readModelConfig, type ModelConfig } from './config';
import { textWeightNames } from './decoder';
import { familyOf } from './families';
import { LanguageModel, type KvCache } from './language-model';
import { readPreprocessorConfig, pixelValues, type Frame, type ImageProcessorConfig } from './preprocess';
import { buildPrompt, type BuiltPrompt, type PromptVideo } from './prompt';
import { ModelTokenizer, userTurn, type ChatMessage } from './tokenizer';
import { VisionEncoder } from './vision';
import { openWeights, type ModelWeights } from './weights';

/** A prompt ready to run: its ids and, when it shows a video, the feature rows its visual tokens take. */
export interface PromptInput {
  prompt: BuiltPrompt;
  features: Float32Array | null;
}

/** The first tokens of a prompt, run once: several prompts that begin with them (a judge's two orders)
 *  go on from its cache instead of running them again. */
export interface PromptPrefix {
  inputIds: readonly number[];
  cache: KvCache;
}

export type VlmGenerateOptions = Omit<GenerateOptions, 'stopTokenIds' | 'decode'> & { stopTokenIds?: readonly number[] };

export interface VisualAttention {
  /** One rows x cols map per frame: the share of the query's attention on each grid cell. */
  maps: Float32Array[];
  rows: number;
  cols: number;
  /** Share of all attention that falls on visual tokens (0..1). */
  visualShare: number;
}

export class VideoLanguageModel {
  private constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    readonly tokenizer: ModelTokenizer,
    readonly preprocessor: ImageProcessorConfig,
    readonly weights: ModelWeights,
    readonly lm: LanguageModel,
    private readonly options: Omit<SessionOptions, 'graphName'>,
  ) {}

  // Built on first use and released by releaseVision: what needs no frames never holds them.
  private vision: Promise<VisionEncoder> | null = null;
  private tower: Promise<VisionEncoder> | null = null;
  private visionHash: string | null = null;

  /** sha256 of all that visual features depend on: the config outside the language model (of which
   *  only the hidden size, the projector's output, counts), the preprocessor, and every weight outside
   *  the language model. Training the language model leaves it unchanged, so a round's merged policy
   *  reuses its parent's cached features. Reads the vision weights once per loaded model. */
  visionFingerprint(): string {
    if (this.visionHash === null) {
      const settings = { config: { ...this.config, file: null, text: this.config.text.hiddenSize }, preprocessor: { ...this.preprocessor, file: null } };
      const hash = createHash('sha256').update(JSON.stringify(settings));
      const { prefix, lmHead } = textWeightNames(this.config);
      for (const name of [...this.weights.shapes.keys()].filter((n) => !n.startsWith(prefix) && n !== lmHead).sort()) {
        const values = this.weights.get(name);
        hash.update(`\0${name}\0`).update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      }
      this.visionHash = hash.digest('hex');
    }
    return this.visionHash;
  }

  /** Reads and checks every file of a model folder (config, tokenizer, preprocessor, each weight's
   *  name, dtype and shape, then the prompts the chat template makes) without building any session;
   *  the weights are left open. */
  private static open(dir: string): { config: ModelConfig; tokenizer: ModelTokenizer; preprocessor: ImageProcessorConfig; weights: ModelWeights } {
    const config = readModelConfig(dir);
    const tokenizer = ModelTokenizer.load(dir);
    tokenizer.checkVocabulary(config.text.vocabSize, `${config.file} text_config.vocab_size`);
    const preprocessor = readPreprocessorConfig(dir);
    const side = config.vision.imageSize;
    if (preprocessor.size.height !== side || preprocessor.size.width !== side) {
      throw new ApiError('bad_input', `${preprocessor.file}: frames of ${preprocessor.size.width}x${preprocessor.size.height} (its size, or max_image_size) do not fit the vision tower's ${side}x${side} (config.json vision_config.image_size)`, { file: preprocessor.file });
    }
    const weights = openWeights(dir, config);
    try {
      VideoLanguageModel.preflight(tokenizer, config);
    } catch (err) {
      weights.close();
      throw err;
    }
    return { config, tokenizer, preprocessor, weights };
  }

  /**
   * The prompts every use of the model makes, built once at load: a question about one frame with
   * the generation prompt, that question answered (what training renders), and a question without a
   * video (a judge's, when it is shown no frames). The chat template runs on them within its limits
   * (chat-template.ts), so a template that loops, raises or writes the placeholders wrongly, and a
   * placeholder the tokenizer splits, are refused here, before any session is built; and the
   * context must hold the longest of them and one token generated.
   */
  private static preflight(tokenizer: ModelTokenizer, config: ModelConfig): void {
    // Built without the context's limit (prompt.ts), which this names in words of its own below.
    const open = { ...config, text: { ...config.text, maxPositionEmbeddings: Number.POSITIVE_INFINITY } };
    const frame = { frames: 1, timesS: [0], durationS: 1 };
    const asked = userTurn('Describe the video.');
    const prompts = [
      buildPrompt(tokenizer, open, asked, frame, { addGenerationPrompt: true }),
      buildPrompt(tokenizer, open, [...asked, { role: 'assistant', content: 'A video.' }], frame, { addGenerationPrompt: false }),
      // A chat without a video may go through another template (SmolVLM2's processor substitutes its own for videos).
      buildPrompt(tokenizer, open, userTurn('Which answer is better?', false), 0, { addGenerationPrompt: true }),
    ];
    // A template rendering nothing for a chat leaves the model no token to start from (generate refuses an empty prompt).
    if (prompts[2].inputIds.length === 0) {
      throw new ApiError('bad_input', `${tokenizer.templateSource}: the chat template renders nothing for a chat without a video (a judge's question), so the model would have no token to start from`, { file: tokenizer.templateSource });
    }
    const longest = Math.max(...prompts.map((p) => p.inputIds.length));
    const max = config.text.maxPositionEmbeddings;
    if (longest + 1 > max) {
      throw new ApiError('bad_input', `${config.file}: "text_config.max_position_embeddings" ${max} is too short: the smallest prompts the studio makes (one frame and a short question, through the folder's chat template) take up to ${longest} tokens, and one more is the token generated`, { file: config.file, key: 'text_config.max_position_embeddings' });
    }
  }

  /** The folder's config, once every file is checked as `load` checks them; cheap: no session is built. */
  static check(dir: string): ModelConfig {
    const { config, weights } = VideoLanguageModel.open(dir);
    weights.close();
    return config;
  }

  /** Loads and checks every file of the folder first, so a broken folder fails before any session is built. */
  static async load(dir: string, options: Omit<SessionOptions, 'graphName'> = {}): Promise<VideoLanguageModel> {
    const { config, tokenizer, preprocessor, weights } = VideoLanguageModel.open(dir);
    try {
      const lm = new LanguageModel(config, weights, options);
      return new VideoLanguageModel(dir, config, tokenizer, preprocessor, weights, lm, options);
    } catch (err) {
      weights.close();
      throw err;
    }
  }

  /** The vision tower's input size; frames of any size are resized to it as the processor says. */
  get frameSize(): { width: number; height: number } {
    return { ...this.preprocessor.size };
  }

  /** Feature rows for a video's frames (rgb24 at their own size), in the order its visual tokens take them:
   *  as the family makes them (LLaVA-OneVision pools each frame's grid 2x2 and ends with image_newline;
   *  Idefics3 keeps each frame's tokens). */
  async visualFeatures(frames: readonly Frame[]): Promise<Float32Array> {
    this.vision ??= VisionEncoder.create(this.config, this.weights, this.options);
    const perFrame = await (await this.vision).encode(pixelValues(frames, this.preprocessor), frames.length);
    return familyOf(this.config).visualRows(this.config, this.weights, perFrame, frames.length);
  }

  /** The tower's features of a video's frames before the projector, [frames, tokens, vision hidden]:
   *  what training the projector starts from. The tower-only session is built on first use. */
  async towerFeatures(frames: readonly Frame[]): Promise<Float32Array> {
    this.tower ??= VisionEncoder.create(this.config, this.weights, this.options, 'tower');
    return (await this.tower).encode(pixelValues(frames, this.preprocessor), frames.length);
  }

  /** Token ids for a chat; a `{ type: 'video' }` part stands for `video` (or a video of that many frames). */
  prompt(messages: ChatMessage[], video: PromptVideo | number, options: { addGenerationPrompt: boolean } = { addGenerationPrompt: true }): BuiltPrompt {
    return buildPrompt(this.tokenizer, this.config, messages, video, options);
  }

  private request(input: PromptInput): { inputIds: number[]; visual?: { tokenId: number; features: Float32Array } } {
    const { prompt, features } = input;
    if (prompt.visualTokenId === null) return { inputIds: prompt.inputIds };
    if (features === null) throw new Error(`the prompt shows a video (${prompt.visualTokens} visual tokens) but no features were given`);
    return { inputIds: prompt.inputIds, visual: { tokenId: prompt.visualTokenId, features } };
  }

  /** Samples or greedy answers for each prompt, decoded; stops at the tokenizer's end-of-turn tokens by default. */
  async generate(inputs: PromptInput[], options: VlmGenerateOptions): Promise<(Generation & { text: string })[]> {
    const generations = await generate(
      this.lm,
      inputs.map((i) => this.request(i)),
      { ...options, stopTokenIds: options.stopTokenIds ?? this.tokenizer.stopTokenIds(), decode: (ids) => this.tokenizer.decode(ids) },
    );
    return generations.map((g) => ({ ...g, text: this.tokenizer.decode(g.tokenIds).trim() }));
  }

  /** Logits of every position of one prompt (full forward, no cache): [seq, vocab]. */
  logits(input: PromptInput): Promise<Float32Array> {
    return this.prefill(input, false);
  }

  /** Logits of the prompt's last position [vocab]: what the next token is drawn from (the
   *  generation session, so no other copy of the decoder is built). */
  lastLogits(input: PromptInput, prefix?: PromptPrefix): Promise<Float32Array> {
    return this.prefill(input, true, prefix);
  }

  /** Runs the first `length` tokens of a prompt, for prompts that begin with them to go on from (lastLogits, attendAndPredict). */
  async prefix(input: PromptInput, length: number): Promise<PromptPrefix> {
    const { inputIds } = input.prompt;
    if (!(Number.isInteger(length) && length >= 1 && length < inputIds.length)) throw new Error(`a prefix of ${length} tokens of a ${inputIds.length}-token prompt must leave at least one`);
    const { present } = await this.lm.forward({ ...this.rows(input, 0, length), batch: 1, past: null, lastLogitsOnly: true });
    return { inputIds: inputIds.slice(0, length), cache: present };
  }

  /** Embeddings, mask and positions of positions [from, to) of a prompt, attending to all before them. */
  private rows(input: PromptInput, from: number, to: number): { inputsEmbeds: Float32Array; seq: number; attentionMask: BigInt64Array; positionIds: BigInt64Array } {
    const { inputIds, visual } = this.request(input);
    const h = this.config.text.hiddenSize;
    return {
      inputsEmbeds: this.lm.embed(inputIds, visual).subarray(from * h, to * h),
      seq: to - from,
      attentionMask: new BigInt64Array(to).fill(1n),
      positionIds: familyOf(this.config).positionIds([to], to, 'right').subarray(from),
    };
  }

  /** Where a prompt goes on from `prefix`: its length, after checking that the prompt begins with it. */
  private start(input: PromptInput, prefix: PromptPrefix | undefined): number {
    if (prefix === undefined) return 0;
    const ids = input.prompt.inputIds;
    if (prefix.inputIds.length >= ids.length || prefix.inputIds.some((id, i) => ids[i] !== id)) throw new Error(`the prompt does not begin with the ${prefix.inputIds.length} tokens of the prefix given, or has nothing after them`);
    return prefix.inputIds.length;
  }

  private async prefill(input: PromptInput, lastLogitsOnly: boolean, prefix?: PromptPrefix): Promise<Float32Array> {
    const from = this.start(input, prefix);
    const { logits } = await this.lm.forward({ ...this.rows(input, from, input.prompt.inputIds.length), batch: 1, past: prefix?.cache ?? null, lastLogitsOnly });
    return logits;
  }

  /**
   * What the model looks at when it writes the token after `queryPositions` (e.g. a judge's verdict):
   * attention averaged over heads, the chosen layers (default: the later half, where attention to
   * content is sharpest) and the query positions, folded onto each frame's patch grid.
   */
  async visualAttention(input: PromptInput, queryPositions: readonly number[], layers?: readonly number[]): Promise<VisualAttention> {
    return (await this.attendAndPredict(input, queryPositions, layers)).attention;
  }

  /** visualAttention and the last position's logits from one forward pass: a judge's verdict and where it looked.
   *  With `prefix`, only the positions after it run; the query positions must be among them. */
  async attendAndPredict(input: PromptInput, queryPositions: readonly number[], layers?: readonly number[], prefix?: PromptPrefix): Promise<{ attention: VisualAttention; lastLogits: Float32Array }> {
    const { prompt } = input;
    if (prompt.layout === null) throw new Error('the prompt shows no video, so there is no visual attention to map');
    const seq = prompt.inputIds.length;
    const bad = queryPositions.find((p) => !(Number.isInteger(p) && p >= 0 && p < seq));
    if (bad !== undefined) throw new Error(`query position ${bad} is outside the prompt's ${seq} tokens`);
    const n = this.config.text.numLayers;
    const chosen = layers ?? Array.from({ length: n - Math.floor(n / 2) }, (_, i) => Math.floor(n / 2) + i);
    const from = this.start(input, prefix);
    // Only the queries' rows leave the graph: [heads, queries, seq] per layer, not [heads, seq, seq].
    const { probs, lastLogits } = await this.lm.attention(this.rows(input, from, seq).inputsEmbeds, seq - from, chosen, queryPositions, prefix?.cache ?? null);
    const perKey = attentionOverKeys(probs, this.config.text.numHeads, seq, queryPositions.map((_, i) => i));
    const { maps, visualShare } = foldVisual(perKey, prompt.layout);
    return { attention: { maps, rows: prompt.layout.rows, cols: prompt.layout.cols, visualShare }, lastLogits };
  }

  /** Releases the vision sessions (and with them the tower's weights, unless something else holds
   *  them): training, which reads cached features, then runs without the tower in memory. The next
   *  frames build them again. */
  async releaseVision(): Promise<void> {
    const sessions = [this.vision, this.tower];
    this.vision = null;
    this.tower = null;
    await Promise.all(sessions.map((s) => s?.then((v) => v.release())));
  }

  async release(): Promise<void> {
    await this.releaseVision();
    await this.lm.release();
    this.weights.close();
  }
}
