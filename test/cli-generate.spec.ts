import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { resolveFfmpeg } from '../src/main/video/ffmpeg';
import { flatClip } from '../src/main/video/testing/clips';
import { runCli } from './cli';

const ortBinaries = join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
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

  it('takes the engine-wide --threads, before or after the command: the same samples on one thread', async () => {
    const args = ['--samples', '2', '--temperature', '1', '--seed', '7', '--max-new-tokens', '6', '--json'];
    const plain = await generate(...args);
    const before = await runCli(['--threads', '1', 'generate', '--model', model, '--video', join(dir, 'red.mp4'), '--prompt', 'What colour is the square?', '--frames', '4', '--cache', cache, ...args]);
    expect([before.code, before.stdout]).toEqual([0, plain.stdout]);
    expect((await generate(...args, '--threads', '1')).stdout).toBe(plain.stdout);
    const bad = await generate('--threads', 'many');
    expect([bad.code, bad.stderr]).toEqual([1, 'isr-studio: ISR_THREADS (--threads) must be a whole number of threads, 0 for ONNX Runtime\'s choice; got "many"\n']);
  }, 60_000);

  it('keeps the optimised graphs where --graph-cache says, and samples the same from them', async () => {
    const args = ['--samples', '2', '--temperature', '1', '--seed', '7', '--max-new-tokens', '6', '--json'];
    const graphs = join(dir, 'graphs');
    const cold = await generate(...args, '--graph-cache', graphs);
    expect(cold.code).toBe(0);
    const kept = readdirSync(graphs).filter((f) => f.endsWith('.onnx'));
    expect(kept.length).toBeGreaterThanOrEqual(1); // the decoder (and the tower, where the features were not cached yet)
    const warm = await generate(...args, '--graph-cache', graphs);
    expect(warm.stdout).toBe(cold.stdout);
    expect(readdirSync(graphs).filter((f) => f.endsWith('.onnx')).sort()).toEqual(kept.sort());
    // off wins over the environment's cache folder.
    vi.stubEnv('ISR_GRAPH_CACHE', join(dir, 'from-env'));
    try {
      expect((await generate(...args, '--graph-cache', 'off')).stdout).toBe(cold.stdout);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(existsSync(join(dir, 'from-env'))).toBe(false);
  }, 60_000);

  // Where `npm run setup:cuda` put CUDA's provider library there may be a GPU to use: nothing to fall back from.
  it.skipIf(existsSync(join(ortBinaries, 'libonnxruntime_providers_cuda.so')))('runs --device cuda on CPU where CUDA is missing, saying so in one line for the whole model', async () => {
    const args = ['--samples', '2', '--temperature', '1', '--seed', '7', '--max-new-tokens', '6', '--json'];
    const cuda = await generate(...args, '--device', 'cuda');
    expect(cuda.code).toBe(0);
    expect(cuda.stdout).toBe((await generate(...args)).stdout);
    expect(cuda.stderr.trim().split('\n')).toHaveLength(1);
    expect(cuda.stderr).toMatch(/execution provider cuda \(.+\) is unusable; running on cpu\n$/);
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
