import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint, writeCheckpoint, type TensorToWrite } from '../engine/graph/safetensors';
import { writeFixture } from '../engine/model/fixture';
import { VideoLanguageModel } from '../engine/model/vlm';
import { resolveFfmpeg } from '../video/ffmpeg';
import { FrameCache } from '../video/frame-cache';
import { flatClip } from '../video/testing/clips';
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
  it('prepares every video\'s features once, then releases the vision tower, whose later use builds it again', async () => {
    const prepared = await VideoLanguageModel.load(join(dir, 'model'));
    const towers: string[] = [];
    const built = prepared.visualFeatures.bind(prepared);
    prepared.visualFeatures = (frames) => {
      towers.push('encode');
      return built(frames);
    };
    const release = prepared.releaseVision.bind(prepared);
    prepared.releaseVision = () => {
      towers.push('release');
      return release();
    };
    try {
      const cacheDir = join(dir, 'prepare-cache');
      const videos = new VideoFeatures(prepared, ffmpeg, cacheDir);
      const seen: [number, number][] = [];
      await videos.prepare([join(dir, 'blue.mp4'), join(dir, 'green.mp4'), join(dir, 'blue.mp4')], 2, (done, total) => seen.push([done, total]));
      expect(towers).toEqual(['encode', 'encode', 'release']);
      expect(seen).toEqual([[0, 2], [1, 2]]);
      expect(readdirSync(join(cacheDir, 'features'))).toHaveLength(2);
      // What follows reads the cache; a video not prepared still works, building the tower again.
      await videos.of(join(dir, 'green.mp4'), 2);
      expect(towers).toHaveLength(3);
      const late = await videos.of(join(dir, 'green.mp4'), 3);
      expect(towers).toEqual(['encode', 'encode', 'release', 'encode']);
      expect(late.length).toBeGreaterThan(0);
    } finally {
      await prepared.release();
    }
  });

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

  it('keys on the vision weights: a policy whose language model was trained reuses them, one with another projector does not', async () => {
    // Copies of the model with one weight nudged, as a LoRA round (language model) or projector training would.
    const nudged = (name: string, to: string) => {
      mkdirSync(join(dir, to));
      for (const file of readdirSync(join(dir, 'model'))) if (file !== 'model.safetensors') copyFileSync(join(dir, 'model', file), join(dir, to, file));
      const source = openCheckpoint(join(dir, 'model'));
      const tensors: Record<string, TensorToWrite> = {};
      for (const n of source.names()) {
        const data = source.readAsFloat32(n);
        if (n === name) data[0] += 0.5;
        tensors[n] = { dtype: 'F32', shape: source.info(n).shape, data };
      }
      source.close();
      writeCheckpoint(join(dir, to), tensors);
      return join(dir, to);
    };
    const language = await VideoLanguageModel.load(nudged('model.text_model.layers.0.mlp.down_proj.weight', 'language'));
    const projector = await VideoLanguageModel.load(nudged('model.connector.modality_projection.proj.weight', 'projector'));
    try {
      const cacheDir = join(dir, 'cache-by-vision');
      const base = await new VideoFeatures(model, ffmpeg, cacheDir).of(join(dir, 'green.mp4'), 2);
      expect(language.visionFingerprint()).toBe(model.visionFingerprint());
      expect(projector.visionFingerprint()).not.toBe(model.visionFingerprint());
      expect(await new VideoFeatures(language, ffmpeg, cacheDir).of(join(dir, 'green.mp4'), 2)).toEqual(base);
      expect(readdirSync(join(cacheDir, 'features'))).toHaveLength(1);
      const moved = await new VideoFeatures(projector, ffmpeg, cacheDir).of(join(dir, 'green.mp4'), 2);
      expect(readdirSync(join(cacheDir, 'features'))).toHaveLength(2);
      // What was served from the cache is what each model computes itself.
      const frames = await new FrameCache(join(cacheDir, 'frames')).frames(ffmpeg, join(dir, 'green.mp4'), 2);
      expect(await language.visualFeatures(frames)).toEqual(base);
      expect(await projector.visualFeatures(frames)).toEqual(moved);
      expect(moved).not.toEqual(base);
    } finally {
      await language.release();
      await projector.release();
    }
  });
});
