import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../src/main/video/ffmpeg';
import { flatClip } from '../src/main/video/testing/clips';
import { runCli } from './cli';

let dir: string;
let model: string;
let cache: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-cli-generate-'));
  model = join(dir, 'model');
  cache = join(dir, 'cache');
  const ffmpeg = (await resolveFfmpeg()).path;
  await flatClip(ffmpeg, join(dir, 'red.mp4'), Array(6).fill([220, 30, 30]), { width: 48, height: 32, fps: 6 });
  const made = await runCli(['fixture', '--arch', 'llava-onevision', '--out', model, '--seed', '2']);
  expect(made.code).toBe(0);
}, 60_000);

const generate = (...extra: string[]) =>
  runCli(['generate', '--model', model, '--video', join(dir, 'red.mp4'), '--prompt', 'What colour is the square?', '--frames', '4', '--cache', cache, ...extra]);

describe('isr-studio generate', () => {
  it('samples repeatably for a seed and greedily by default, printing JSON on request', async () => {
    const args = ['--samples', '3', '--temperature', '1', '--top-p', '0.9', '--seed', '7', '--max-new-tokens', '8', '--json'];
    const [first, again] = [await generate(...args), await generate(...args)];
    expect(first.stderr).toBe('');
    const out = JSON.parse(first.stdout) as { samples: { text: string; tokenIds: number[]; finishReason: string }[]; frames: number };
    expect(out.frames).toBe(4);
    expect(out.samples).toHaveLength(3);
    for (const s of out.samples) expect(['eos', 'length']).toContain(s.finishReason);
    expect(again.stdout).toBe(first.stdout);
    const otherSeed = await generate(...args.slice(0, -3), '9', '--max-new-tokens', '8', '--json');
    expect(otherSeed.stdout).not.toBe(first.stdout);

    const greedy = await generate('--max-new-tokens', '5');
    expect(greedy.code).toBe(0);
    expect(greedy.stdout.endsWith('\n')).toBe(true);
  }, 60_000);

  it('says which setting is wrong, and which file, before loading anything', async () => {
    const bad = await generate('--temperature', 'hot');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("option '--temperature <t>' argument 'hot' is invalid. expected a number from 0 to 10");
    const missing = await runCli(['generate', '--model', dir, '--video', join(dir, 'red.mp4'), '--prompt', 'q']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(join(dir, 'config.json'));
  });
});

describe('isr-studio inspect logits', () => {
  it('prints the token ids and one logit per vocabulary entry for the last position', async () => {
    const text = await runCli(['inspect', 'logits', '--model', model, '--prompt', 'Describe the video.', '--json']);
    expect(text.stderr).toBe('');
    const out = JSON.parse(text.stdout) as { tokenIds: number[]; vocabSize: number; logits: number[] };
    expect(out.logits).toHaveLength(out.vocabSize);
    expect(out.logits.every(Number.isFinite)).toBe(true);
    const withVideo = JSON.parse(
      (await runCli(['inspect', 'logits', '--model', model, '--prompt', 'Describe the video.', '--video', join(dir, 'red.mp4'), '--frames', '2', '--cache', cache])).stdout,
    ) as { tokenIds: number[]; logits: number[] };
    // 2 frames of a 4x4 patch grid pooled to 2x2, plus image_newline: 9 more tokens than the placeholder.
    expect(withVideo.tokenIds.length).toBe(out.tokenIds.length + 1 + 2 * 4 + 1);
    expect(withVideo.logits).not.toEqual(out.logits);
  }, 60_000);
});
