// A chat turned into token ids the way each family's processor does it, with the video's visual
// tokens expanded in place and a record of where each frame's tokens sit (for attention maps).
// What the placeholder is, how many the template writes and what each becomes are the family's
// (families/: LLaVA-OneVision one <video> for the whole video, Idefics3 one <image> a frame,
// SmolVLM2 one <video> that becomes an intro and each frame's time and image).
import { ApiError } from '../../../shared/errors';
import type { ModelConfig } from './config';
import { familyOf } from './families';
import type { ChatMessage, ModelTokenizer } from './tokenizer';
import { count } from '../../../shared/plural';

/** Where the visual tokens of each frame lie: frame f's grid cell (r, c) is the token at
 *  frameStarts[f] + r * cols + c. */
export interface VisualLayout {
  frameStarts: number[];
  rows: number;
  cols: number;
}

export interface BuiltPrompt {
  inputIds: number[];
  /** The placeholder id the visual features replace, in order (null when the prompt has no video). */
  visualTokenId: number | null;
  /** How many rows of visual features the prompt expects. */
  visualTokens: number;
  layout: VisualLayout | null;
}

/** The video a prompt shows: its frame count, and where the family's processor writes them into the
 *  prompt (SmolVLM2's), each frame's time in the clip and the clip's duration. */
export interface PromptVideo {
  frames: number;
  timesS?: readonly number[];
  durationS?: number;
}

/** The per-frame grid of visual tokens the family puts into the prompt. */
export function promptGrid(config: ModelConfig): number {
  return familyOf(config).promptGrid(config);
}

/**
 * Refuses a prompt of `length` tokens that passes the decoder's context, max_position_embeddings,
 * which RoPE without scaling was trained to and transformers' generate only warns about. Scaled
 * RoPE (linear, dynamic, yarn, llama3) exists to run past it, to a length the fine-tune chose, so
 * there the check is left to whoever set the scaling.
 */
function checkLength(config: ModelConfig, length: number, visualTokens: number, frames: number, atLeast = false): void {
  const { maxPositionEmbeddings: max, rope } = config.text;
  if (length <= max || rope.scaling.type !== 'default') return;
  const visual = visualTokens > 0 ? ` (${visualTokens} of them visual, for ${count(frames, 'frame')})` : '';
  throw new ApiError('bad_input', `a prompt of ${atLeast ? 'at least ' : ''}${length} tokens${visual} is longer than the model's context, ${config.file} text_config.max_position_embeddings ${max}: use fewer frames or a shorter text`, { file: config.file, key: 'text_config.max_position_embeddings' });
}

function videoParts(messages: ChatMessage[]): number {
  return messages.reduce((n, m) => n + (typeof m.content === 'string' ? 0 : m.content.filter((p) => p.type === 'video').length), 0);
}

/**
 * The chat template's text for `messages` with a video of `frames` frames, as the family's processor
 * renders it before expanding its placeholders: what transformers' processors and vLLM take as the
 * prompt (they expand the placeholders themselves).
 */
export function chatText(tokenizer: ModelTokenizer, config: ModelConfig, messages: ChatMessage[], frames: number, options: { addGenerationPrompt: boolean }): string {
  const family = familyOf(config);
  const template = family.chatTemplate(messages);
  return tokenizer.applyChatTemplate(family.promptMessages(messages, frames), { ...options, ...(template ? { template } : {}) });
}

/**
 * Token ids for `messages` with `video` (or a video of that many frames) where a `{ type: 'video' }`
 * part stands, the way the family's processor makes them: the chat template rendered, each
 * placeholder replaced by the family's expansion as text, the whole text tokenised. At most one
 * video per prompt (the studio asks about one clip at a time).
 */
export function buildPrompt(
  tokenizer: ModelTokenizer,
  config: ModelConfig,
  messages: ChatMessage[],
  video: PromptVideo | number,
  options: { addGenerationPrompt: boolean },
): BuiltPrompt {
  const shown: PromptVideo = typeof video === 'number' ? { frames: video } : video;
  const { frames } = shown;
  const videos = videoParts(messages);
  if (videos > 1) throw new Error(`a prompt may hold one video; this one has ${videos}`);
  if (videos === 1 && !(Number.isInteger(frames) && frames > 0)) throw new Error(`a video needs at least one frame, got ${frames}`);
  const family = familyOf(config);
  const template = family.chatTemplate(messages);
  const text = chatText(tokenizer, config, messages, frames, options);
  if (videos === 0) {
    const inputIds = tokenizer.encode(text);
    checkLength(config, inputIds.length, 0, 0);
    return { inputIds, visualTokenId: null, visualTokens: 0, layout: null };
  }

  const { placeholder } = family;
  const pieces = text.split(placeholder);
  const expected = family.placeholdersFor(frames);
  if (pieces.length - 1 !== expected) {
    const source = template?.source ?? tokenizer.templateSource;
    throw new ApiError('bad_input', `the chat template in ${source} wrote ${pieces.length - 1} "${placeholder}" placeholders for ${expected} expected`, { file: source });
  }
  const grid = family.promptGrid(config);
  const cells = grid * grid;
  const visualTokens = visualTokenCount(config, frames);
  // The visual tokens alone may pass the context: refused before their text is made.
  checkLength(config, visualTokens, visualTokens, frames, true);
  const inputIds = tokenizer.encode(pieces.join(family.expandPlaceholder(config, shown)));
  checkLength(config, inputIds.length, visualTokens, frames);
  const visualTokenId = family.visualTokenId(config);
  const positions = inputIds.flatMap((id, i) => (id === visualTokenId ? [i] : []));
  if (positions.length !== visualTokens) {
    throw new ApiError('bad_input', `the prompt holds ${positions.length} visual tokens (id ${visualTokenId}) where ${frames} frames of ${grid}x${grid} need ${visualTokens}: does ${tokenizer.dir}'s tokenizer.json keep the placeholder whole?`, { file: tokenizer.dir });
  }
  const frameStarts = Array.from({ length: frames }, (_, f) => positions[f * cells]);
  return { inputIds, visualTokenId, visualTokens, layout: { frameStarts, rows: grid, cols: grid } };
}

/** The visual tokens a prompt holds for `frames` frames of video. */
export function visualTokenCount(config: ModelConfig, frames: number): number {
  const family = familyOf(config);
  return frames * family.promptGrid(config) ** 2 + family.appendedVisualRows;
}
