// A chat turned into token ids the way each family's processor does it, with the video's visual
// tokens expanded in place and a record of where each frame's tokens sit (for attention maps).
// What the placeholder is, how many the template writes and what each becomes are the family's
// (families/: LLaVA-OneVision one <video> for the whole video, Idefics3 one <image> a frame).
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

/** The per-frame grid of visual tokens the family puts into the prompt. */
export function promptGrid(config: ModelConfig): number {
  return familyOf(config).promptGrid(config);
}

function videoParts(messages: ChatMessage[]): number {
  return messages.reduce((n, m) => n + (typeof m.content === 'string' ? 0 : m.content.filter((p) => p.type === 'video').length), 0);
}

/**
 * Token ids for `messages` with a video of `frames` frames where a `{ type: 'video' }` part stands.
 * At most one video per prompt (the studio asks about one clip at a time).
 */
export function buildPrompt(
  tokenizer: ModelTokenizer,
  config: ModelConfig,
  messages: ChatMessage[],
  frames: number,
  options: { addGenerationPrompt: boolean },
): BuiltPrompt {
  const videos = videoParts(messages);
  if (videos > 1) throw new Error(`a prompt may hold one video; this one has ${videos}`);
  if (videos === 1 && !(Number.isInteger(frames) && frames > 0)) throw new Error(`a video needs at least one frame, got ${frames}`);
  const family = familyOf(config);
  const text = tokenizer.applyChatTemplate(family.promptMessages(messages, frames), options);
  if (videos === 0) return { inputIds: tokenizer.encode(text), visualTokenId: null, visualTokens: 0, layout: null };

  const grid = family.promptGrid(config);
  const { placeholder } = family;
  const pieces = text.split(placeholder);
  const expected = family.placeholdersFor(frames);
  if (pieces.length - 1 !== expected) {
    throw new Error(`the chat template in ${tokenizer.templateSource} wrote ${pieces.length - 1} "${placeholder}" placeholders for ${expected} expected`);
  }
  // Text pieces are tokenised apart and the visual runs inserted as ids: the same ids the
  // processor's string expansion gives, since every placeholder is a special token.
  const inputIds: number[] = [];
  const frameStarts: number[] = [];
  const visualTokenId = family.visualTokenId(config);
  pieces.forEach((piece, i) => {
    inputIds.push(...tokenizer.encode(piece));
    if (i === pieces.length - 1) return;
    const expansion = family.expandPlaceholder(tokenizer, config, frames);
    frameStarts.push(...expansion.frameStarts.map((start) => inputIds.length + start));
    inputIds.push(...expansion.ids);
  });
  const visualTokens = inputIds.filter((id) => id === visualTokenId).length;
  return { inputIds, visualTokenId, visualTokens, layout: { frameStarts, rows: grid, cols: grid } };
}
