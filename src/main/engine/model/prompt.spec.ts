import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from './config';
import { fixtureArchs, writeFixture, type FixtureArch } from './fixture';
import { buildPrompt, promptGrid } from './prompt';
import { ModelTokenizer, type ChatMessage } from './tokenizer';

const corpus = ['What colour is the square?', 'Which way does the red circle move?', 'Describe the video.'];

function fixture(arch: FixtureArch): { config: ModelConfig; tok: ModelTokenizer } {
  const dir = mkdtempSync(join(tmpdir(), 'isr-prompt-'));
  const { config } = writeFixture(dir, { arch, size: 'tiny', seed: 1, corpus });
  return { config, tok: ModelTokenizer.load(dir) };
}

const ask: ChatMessage[] = [{ role: 'user', content: [{ type: 'video' }, { type: 'text', text: 'What colour is the square?' }] }];

// Each family processor's own route: render, expand placeholders as strings (processing_llava_onevision.py,
// processing_idefics3.py), and the whole text is what gets tokenised.
const processorText: Record<string, (tok: ModelTokenizer, frames: number, grid: number) => string> = {
  'llava-onevision': (tok, frames, grid) => tok.applyChatTemplate(ask, { addGenerationPrompt: true }).replace('<video>', '<video>'.repeat(frames * grid * grid + 1)),
  idefics3: (tok, frames, grid) => {
    const asImages: ChatMessage[] = [{ role: 'user', content: [...Array(frames).fill({ type: 'image' }), { type: 'text', text: 'What colour is the square?' }] }];
    const text = tok.applyChatTemplate(asImages, { addGenerationPrompt: true });
    return text.replaceAll('<image>', `<fake_token_around_image><global-img>${'<image>'.repeat(grid * grid)}<fake_token_around_image>`);
  },
  // processing_smolvlm.py's process_video for 3 frames at 0 s, 0.7 s and 61.5 s of a 62.4 s clip.
  smolvlm: (tok, frames, grid) => {
    const image = `<fake_token_around_image><global-img>${'<image>'.repeat(grid * grid)}<fake_token_around_image>`;
    const video = `You are provided the following series of three frames from a 0:01:02 [H:MM:SS] video.\n\nFrame from 00:00:${image}\nFrame from 00:00:${image}\nFrame from 01:01:${image}\n\n`;
    expect(frames).toBe(3);
    return `<|im_start|>User: ${video}What colour is the square?<end_of_utterance>\nAssistant:`;
  },
};
// Visual tokens after the frames' grids: LLaVA-OneVision's image_newline.
const trailingRows: Record<string, number> = { 'llava-onevision': 1, idefics3: 0, smolvlm: 0 };
const clip = { frames: 3, timesS: [0, 0.7, 61.5], durationS: 62.4 };

describe.each(fixtureArchs)('%s prompts', (arch) => {
  const { config, tok } = fixture(arch);
  const frames = 3;

  it('equals tokenising the processor-expanded text, the way the family processor writes it', () => {
    const built = buildPrompt(tok, config, ask, clip, { addGenerationPrompt: true });
    // The processor's own route: render, expand placeholders as strings, tokenise the whole text.
    const grid = promptGrid(config);
    expect(built.inputIds).toEqual(tok.encode(processorText[arch](tok, frames, grid)));
  });

  it('records where each frame lies and how many feature rows the prompt takes', () => {
    const built = buildPrompt(tok, config, ask, clip, { addGenerationPrompt: true });
    const { layout, visualTokenId } = built;
    const cells = layout!.rows * layout!.cols;
    expect(layout!.frameStarts).toHaveLength(frames);
    for (const start of layout!.frameStarts) {
      expect(built.inputIds.slice(start, start + cells)).toEqual(Array(cells).fill(visualTokenId));
    }
    expect(built.visualTokens).toBe(frames * cells + trailingRows[arch]);
    expect(built.inputIds.filter((id) => id === visualTokenId)).toHaveLength(built.visualTokens);
  });

  it('leaves a text-only prompt without visual tokens, and refuses two videos or no frames', () => {
    const text = buildPrompt(tok, config, [{ role: 'user', content: 'Describe the video.' }], 0, { addGenerationPrompt: false });
    expect(text).toMatchObject({ visualTokenId: null, visualTokens: 0, layout: null });
    expect(tok.decode(text.inputIds)).toContain('Describe the video.');
    const two: ChatMessage[] = [{ role: 'user', content: [{ type: 'video' }, { type: 'video' }] }];
    expect(() => buildPrompt(tok, config, two, 2, { addGenerationPrompt: true })).toThrow('a prompt may hold one video; this one has 2');
    expect(() => buildPrompt(tok, config, ask, 0, { addGenerationPrompt: true })).toThrow('a video needs at least one frame, got 0');
  });
});
