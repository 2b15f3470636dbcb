import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/errors';
import { encodeRgbVideo } from './encode';
import { resolveFfmpeg } from './ffmpeg';
import { FrameCache } from './frame-cache';
import { frameAt, sampleFrames, uniformFrameIndices } from './frames';
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
  it('returns N frames spread uniformly, at the video\'s own size, in order', async () => {
    const count = 4;
    const info = { durationS: levels.length / fps, fps };
    const frames = await sampleFrames(ffmpeg, clip, info, count);
    expect(frames.map((f) => [f.width, f.height, f.data.length])).toEqual(Array(count).fill([32, 24, 32 * 24 * 3]));
    // Independently: sample i is the frame on screen at the middle of the i-th quarter.
    const expected = [0, 1, 2, 3].map((i) => levels[Math.floor(((i + 0.5) / count) * levels.length)]);
    const got = frames.map((f) => meanColour(f.data)[0]);
    got.forEach((g, i) => expect(Math.abs(g - expected[i])).toBeLessThan(6));
  });

  it('takes the middle frame of equal spans, repeating frames when asked for more than there are', () => {
    expect(uniformFrameIndices(8, 4)).toEqual([1, 3, 5, 7]);
    expect(uniformFrameIndices(2, 4)).toEqual([0, 0, 1, 1]);
  });

  it('reads every frame, first and last included, when asked for one sample per frame', async () => {
    const frames = await sampleFrames(ffmpeg, clip, { durationS: 1, fps }, levels.length);
    frames.forEach((f, k) => expect(Math.abs(meanColour(f.data)[0] - levels[k])).toBeLessThan(6));
  });
});

describe('frameAt', () => {
  it('decodes at the native size, unscaled: an edge stays on its own column', async () => {
    // 48x20, dark left of column 30 and bright from it: a scaled decode would move or blur the edge.
    const [width, height] = [48, 20];
    const frame = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) frame.fill(i % width < 30 ? 30 : 220, i * 3, i * 3 + 3);
    const path = join(dir, 'edge.mp4');
    await encodeRgbVideo(ffmpeg, path, [frame, frame], { width, height, fps });
    const got = await frameAt(ffmpeg, path, 0);
    expect([got.width, got.height, got.data.length]).toEqual([width, height, width * height * 3]);
    const column = (x: number) => meanColour(Uint8Array.from({ length: height * 3 }, (_, i) => got.data[(Math.floor(i / 3) * width + x) * 3 + (i % 3)]))[0];
    for (const x of [0, 20, 27]) expect(Math.abs(column(x) - 30), `column ${x}`).toBeLessThan(12);
    for (const x of [31, 40, 47]) expect(Math.abs(column(x) - 220), `column ${x}`).toBeLessThan(12);
  });

  it('names the file it could not read a frame from', async () => {
    const bad = join(dir, 'not-a-video.mp4');
    writeFileSync(bad, 'hello');
    const err = await frameAt(ffmpeg, bad, 0).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toMatch(/^could not read a frame at 0\.000 s from .*not-a-video\.mp4: /);
  });
});

describe('sha256File', () => {
  it('matches a hash of the whole file read at once', async () => {
    expect(await sha256File(clip)).toBe(createHash('sha256').update(readFileSync(clip)).digest('hex'));
  });
});

describe('FrameCache', () => {
  it('stores frames by content hash and count, and serves a copy of the same video from disk', async () => {
    const cache = new FrameCache(join(dir, 'cache'));
    const first = await cache.frames(ffmpeg, clip, 3);
    expect(first.map((f) => [f.width, f.height])).toEqual(Array(3).fill([32, 24]));
    const entry = cache.entryPath(await sha256File(clip), 3);
    expect(readdirSync(join(dir, 'cache'))).toEqual([entry.split('/').at(-1)]);
    // Each frame: width and height (uint32 LE), then its bytes.
    const head = Buffer.from([32, 0, 0, 0, 24, 0, 0, 0]);
    expect(Buffer.from(readFileSync(entry))).toEqual(Buffer.concat(first.flatMap((f) => [head, f.data])));

    // Overwrite the entry with markers of another size: a hit must return exactly these, from any
    // path holding the same content.
    const marker = (v: number) => Buffer.concat([Buffer.from([2, 0, 0, 0, 1, 0, 0, 0]), Buffer.alloc(6, v)]);
    writeFileSync(entry, Buffer.concat([marker(7), marker(8), marker(9)]));
    const copy = join(dir, 'copy.mp4');
    copyFileSync(clip, copy);
    const hit = await cache.frames(ffmpeg, copy, 3);
    expect(hit.map((f) => [f.width, f.height, [...f.data]])).toEqual([7, 8, 9].map((v) => [2, 1, Array(6).fill(v)]));

    // Another count is another entry.
    const other = await cache.frames(ffmpeg, clip, 2);
    expect(other).toHaveLength(2);
    expect(readdirSync(join(dir, 'cache'))).toHaveLength(2);
  });

  it('recomputes an entry that does not parse to the frames asked for instead of trusting it', async () => {
    const cache = new FrameCache(join(dir, 'cache2'));
    const entry = cache.entryPath(await sha256File(clip), 2);
    const good = await cache.frames(ffmpeg, clip, 2);
    const whole = readFileSync(entry);
    for (const broken of [Buffer.alloc(10), whole.subarray(0, whole.length - 1), Buffer.concat([whole, Buffer.alloc(1)])]) {
      writeFileSync(entry, broken);
      const again = await cache.frames(ffmpeg, clip, 2);
      expect(again.map((f) => Buffer.from(f.data))).toEqual(good.map((f) => Buffer.from(f.data)));
    }
  });
});
