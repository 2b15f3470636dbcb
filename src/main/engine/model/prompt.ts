// A chat turned into token ids the way each family's processor does it, with the video's visual
// tokens expanded in place and a record of where each frame's tokens sit (for attention maps).
// LLaVA-OneVision: one <video> placeholder becomes frames * ceil(side/2)^2 + 1 video tokens
// (processing_llava_onevision.py). Idefics3 / SmolVLM: frames go in as images, each <image>
// becoming <fake_token_around_image><global-img><image>*n<fake_token_around_image> with
// n = (side / scale_factor)^2 (processing_idefics3.py, get_image_prompt_string without splitting).
import type { ModelConfig } from './config';
import type { ChatMessage, ContentPart, ModelTokenizer } from './tokenizer';
import { pooledSide, videoTokenCount } from './video-pooling';
import { patchesPerSide } from './weights';

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
  const side = patchesPerSide(config.vision);
  return config.arch === 'llava-onevision' ? pooledSide(side) : side / config.scaleFactor;
}

/** Messages with their video part, for the family: Idefics3 takes the frames as that many images. */
function withFrames(config: ModelConfig, messages: ChatMessage[], frames: number): ChatMessage[] {
  if (config.arch === 'llava-onevision') return messages;
  return messages.map((m) =>
    typeof m.content === 'string' ? m : { ...m, content: m.content.flatMap((p): ContentPart[] => (p.type === 'video' ? Array.from({ length: frames }, () => ({ type: 'image' })) : [p])) },
  );
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
  const text = tokenizer.applyChatTemplate(withFrames(config, messages, frames), options);
  if (videos === 0) return { inputIds: tokenizer.encode(text), visualTokenId: null, visualTokens: 0, layout: null };

  const grid = promptGrid(config);
  const placeholder = config.arch === 'llava-onevision' ? '<video>' : '<image>';
  const pieces = text.split(placeholder);
  const expected = config.arch === 'llava-onevision' ? 1 : frames;
  if (pieces.length - 1 !== expected) {
    throw new Error(`the chat template in ${tokenizer.templateSource} wrote ${pieces.length - 1} "${placeholder}" placeholders for ${expected} expected`);
  }
  // Text pieces are tokenised apart and the visual runs inserted as ids: the same ids the
  // processor's string expansion gives, since every placeholder is a special token.
  const inputIds: number[] = [];
  const frameStarts: number[] = [];
  const visualTokenId = config.arch === 'llava-onevision' ? config.videoTokenId : config.imageTokenId;
  pieces.forEach((piece, i) => {
    inputIds.push(...tokenizer.encode(piece));
    if (i === pieces.length - 1) return;
    if (config.arch === 'llava-onevision') {
      for (let f = 0; f < frames; f++) frameStarts.push(inputIds.length + f * grid * grid);
      inputIds.push(...Array<number>(videoTokenCount(frames, patchesPerSide(config.vision))).fill(visualTokenId));
    } else {
      const around = tokenizer.tokenId('<fake_token_around_image>');
      inputIds.push(around, tokenizer.tokenId('<global-img>'));
      frameStarts.push(inputIds.length);
      inputIds.push(...Array<number>(grid * grid).fill(visualTokenId), around);
    }
  });
  const visualTokens = inputIds.filter((id) => id === visualTokenId).length;
  return { inputIds, visualTokenId, visualTokens, layout: { frameStarts, rows: grid, cols: grid } };
}
