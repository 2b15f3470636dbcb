import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from './ffmpeg';
import { FrameCache } from './frame-cache';
import { sampleFrames, uniformFrameIndices } from './frames';
import { sha256File } from './hash';
import { meanColour, flatClip } from './testing/clips';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

let ffmpeg: string;
let dir: string;
let clip: string;
// Frame k is grey level 20 * k + 20: which frame a sample came from can be read off its colour.
const levels = Array.from({ length: 10 }, (_, k) => 20 * k + 20);
const fps = 10;

beforeAll(async () => {
  ffmpeg = (await resolveFfmpeg()).path;
  dir = mkdtempSync(join(tmpdir(), 'isr-frames-'));
  clip = join(dir, 'ramp.mp4');
  await flatClip(ffmpeg, clip, levels.map((l) => [l, l, l] as [number, number, number]), { width: 32, height: 24, fps });
});

describe('sampleFrames', () => {
  it('returns N frames spread uniformly, at the requested size, in order', async () => {
    const count = 4;
    const info = { durationS: levels.length / fps, fps };
    const frames = await sampleFrames(ffmpeg, clip, info, count, { width: 16, height: 8 });
    expect(frames.map((f) => f.length)).toEqual(Array(count).fill(16 * 8 * 3));
    // Independently: sample i is the frame on screen at the middle of the i-th quarter.
    const expected = [0, 1, 2, 3].map((i) => levels[Math.floor(((i + 0.5) / count) * levels.length)]);
    const got = frames.map((f) => meanColour(f)[0]);
    got.forEach((g, i) => expect(Math.abs(g - expected[i])).toBeLessThan(6));
  });

  it('takes the middle frame of equal spans, repeating frames when asked for more than there are', () => {
    expect(uniformFrameIndices(8, 4)).toEqual([1, 3, 5, 7]);
    expect(uniformFrameIndices(2, 4)).toEqual([0, 0, 1, 1]);
  });

  it('reads every frame, first and last included, when asked for one sample per frame', async () => {
    const frames = await sampleFrames(ffmpeg, clip, { durationS: 1, fps }, levels.length, { width: 4, height: 4 });
    frames.forEach((f, k) => expect(Math.abs(meanColour(f)[0] - levels[k])).toBeLessThan(6));
  });
});

describe('sha256File', () => {
  it('matches a hash of the whole file read at once', async () => {
    expect(await sha256File(clip)).toBe(createHash('sha256').update(readFileSync(clip)).digest('hex'));
  });
});

describe('FrameCache', () => {
  it('stores frames by content hash and settings, and serves a copy of the same video from disk', async () => {
    const cache = new FrameCache(join(dir, 'cache'));
    const size = { width: 8, height: 6 };
    const first = await cache.frames(ffmpeg, clip, 3, size);
    const entry = cache.entryPath(await sha256File(clip), 3, size);
    expect(readdirSync(join(dir, 'cache'))).toEqual([entry.split('/').at(-1)]);
    expect(Buffer.from(readFileSync(entry))).toEqual(Buffer.concat(first));

    // Overwrite the entry with a marker: a hit must return exactly these bytes, from any path
    // holding the same content.
    const marker = Buffer.alloc(3 * 8 * 6 * 3, 7);
    writeFileSync(entry, marker);
    const copy = join(dir, 'copy.mp4');
    copyFileSync(clip, copy);
    const hit = await cache.frames(ffmpeg, copy, 3, size);
    expect(Buffer.concat(hit)).toEqual(marker);

    // Other settings are another entry.
    const other = await cache.frames(ffmpeg, clip, 2, size);
    expect(other).toHaveLength(2);
    expect(readdirSync(join(dir, 'cache'))).toHaveLength(2);
  });

  it('recomputes an entry of the wrong length instead of trusting it', async () => {
    const cache = new FrameCache(join(dir, 'cache2'));
    const size = { width: 8, height: 6 };
    const entry = cache.entryPath(await sha256File(clip), 2, size);
    const good = await cache.frames(ffmpeg, clip, 2, size);
    writeFileSync(entry, Buffer.alloc(10));
    const again = await cache.frames(ffmpeg, clip, 2, size);
    expect(Buffer.concat(again)).toEqual(Buffer.concat(good));
  });
});
