import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFixture } from '../engine/model/fixture';
import { VideoLanguageModel } from '../engine/model/vlm';
import { resolveFfmpeg } from '../video/ffmpeg';
import { flatClip } from '../video/test-clips';
import { VideoFeatures } from './video-features';

let dir: string;
let ffmpeg: string;
let model: VideoLanguageModel;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-video-features-'));
  ffmpeg = (await resolveFfmpeg()).path;
  await flatClip(ffmpeg, join(dir, 'blue.mp4'), Array(4).fill([20, 40, 220]), { width: 40, height: 30, fps: 4 });
  await flatClip(ffmpeg, join(dir, 'green.mp4'), Array(4).fill([20, 220, 40]), { width: 40, height: 30, fps: 4 });
  writeFixture(join(dir, 'model'), { arch: 'idefics3', size: 'tiny', seed: 1, corpus: ['What colour?'] });
  model = await VideoLanguageModel.load(join(dir, 'model'));
});
afterAll(async () => {
  await model.release();
  rmSync(dir, { recursive: true, force: true });
});

describe('VideoFeatures', () => {
  it('runs the vision tower once per (video content, frame count, model) and serves the rest from disk', async () => {
    let encoded = 0;
    const original = model.visualFeatures.bind(model);
    model.visualFeatures = (frames) => {
      encoded++;
      return original(frames);
    };
    const cacheDir = join(dir, 'cache');
    const first = await new VideoFeatures(model, ffmpeg, cacheDir).of(join(dir, 'blue.mp4'), 2);
    expect(encoded).toBe(1);
    // A fresh instance (a later process) and a renamed copy of the same clip both hit the cache.
    copyFileSync(join(dir, 'blue.mp4'), join(dir, 'renamed.mp4'));
    const again = await new VideoFeatures(model, ffmpeg, cacheDir).of(join(dir, 'renamed.mp4'), 2);
    expect(encoded).toBe(1);
    expect(again).toEqual(first);
    expect(readdirSync(join(cacheDir, 'features'))).toHaveLength(1);

    const otherCount = await new VideoFeatures(model, ffmpeg, cacheDir).of(join(dir, 'blue.mp4'), 3);
    const otherVideo = await new VideoFeatures(model, ffmpeg, cacheDir).of(join(dir, 'green.mp4'), 2);
    expect(encoded).toBe(3);
    expect(otherCount.length).toBe((first.length / 2) * 3);
    expect(otherVideo).not.toEqual(first);
  });
});
