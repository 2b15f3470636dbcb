// A chat turned into token ids the way each family's processor does it, with the video's visual
// tokens expanded in place and a record of where each frame's tokens sit (for attention maps).
// What the placeholder is, how many the template writes and what each becomes are the family's
// (families/: LLaVA-OneVision one <video> for the whole video, Idefics3 one <image> a frame,
// SmolVLM2 one <video> that becomes an intro and each frame's time and image).
import type { ModelConfig } from './config';
import { familyOf } from './families';
import type { ChatMessage, ModelTokenizer } from './tokenizer';

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

function videoParts(messages: ChatMessage[]): number {
  return messages.reduce((n, m) => n + (typeof m.content === 'string' ? 0 : m.content.filter((p) => p.type === 'video').length), 0);
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
  const text = tokenizer.applyChatTemplate(family.promptMessages(messages, frames), { ...options, ...(template ? { template } : {}) });
  if (videos === 0) return { inputIds: tokenizer.encode(text), visualTokenId: null, visualTokens: 0, layout: null };

  const { placeholder } = family;
  const pieces = text.split(placeholder);
  const expected = family.placeholdersFor(frames);
  if (pieces.length - 1 !== expected) {
    throw new Error(`the chat template in ${template?.source ?? tokenizer.templateSource} wrote ${pieces.length - 1} "${placeholder}" placeholders for ${expected} expected`);
  }
  const inputIds = tokenizer.encode(pieces.join(family.expandPlaceholder(config, shown)));
  const visualTokenId = family.visualTokenId(config);
  const positions = inputIds.flatMap((id, i) => (id === visualTokenId ? [i] : []));
  const grid = family.promptGrid(config);
  const cells = grid * grid;
  const visualTokens = frames * cells + family.appendedVisualRows;
  if (positions.length !== visualTokens) {
    throw new Error(`the prompt holds ${positions.length} visual tokens (id ${visualTokenId}) where ${frames} frames of ${grid}x${grid} need ${visualTokens}: does ${tokenizer.dir}'s tokenizer.json keep the placeholder whole?`);
  }
  const frameStarts = Array.from({ length: frames }, (_, f) => positions[f * cells]);
  return { inputIds, visualTokenId, visualTokens, layout: { frameStarts, rows: grid, cols: grid } };
}
