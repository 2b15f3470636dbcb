import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiError } from '../../shared/errors';
import { resolveFfmpeg } from './ffmpeg';
import { parseProbe, probeVideo } from './probe';
import { flatClip } from './testing/clips';

let ffmpeg: string;
let dir: string;
beforeAll(async () => {
  ffmpeg = (await resolveFfmpeg()).path;
  dir = mkdtempSync(join(tmpdir(), 'isr-probe-'));
});

async function probeError(path: string): Promise<ApiError> {
  const err = await probeVideo(ffmpeg, path).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

describe('probeVideo', () => {
  it('reads duration, size and frame rate of a clip it made', async () => {
    const path = join(dir, 'clip.mp4');
    await flatClip(ffmpeg, path, Array(12).fill([200, 30, 30]), { width: 48, height: 32, fps: 8 });
    const info = await probeVideo(ffmpeg, path);
    expect(info).toMatchObject({ width: 48, height: 32, fps: 8 });
    // 12 frames at 8 fps; the container rounds to centiseconds.
    expect(info.durationS).toBeCloseTo(1.5, 1);
  });

  it('rejects garbage bytes named .mp4, naming the file and the reason', async () => {
    const path = join(dir, 'garbage.mp4');
    writeFileSync(path, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    const err = await probeError(path);
    expect(err.code).toBe('bad_input');
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/Invalid data/);
  });

  it('rejects an empty file and a missing one', async () => {
    const empty = join(dir, 'empty.mp4');
    writeFileSync(empty, '');
    expect((await probeError(empty)).message).toContain(empty);
    const missing = join(dir, 'missing.mp4');
    expect((await probeError(missing)).message).toMatch(/No such file/);
  });
});

describe('parseProbe', () => {
  it('does not mistake a codec tag like 0x31637661 for the frame size', () => {
    const banner = `Input #0, mov,mp4, from 'x.mp4':
  Duration: 00:01:02.50, start: 0.000000, bitrate: 41 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 640x360 [SAR 1:1 DAR 16:9], 33 kb/s, 29.97 fps, 29.97 tbr, 30k tbn (default)`;
    expect(parseProbe(banner)).toEqual({ durationS: 62.5, width: 640, height: 360, fps: 29.97 });
  });

  it('says when there is no video stream', () => {
    const banner = `Input #0, wav, from 'a.wav':
  Duration: 00:00:01.00, bitrate: 705 kb/s
  Stream #0:0: Audio: pcm_s16le, 44100 Hz, mono, s16, 705 kb/s`;
    expect(parseProbe(banner)).toEqual({ error: 'no video stream' });
  });
});
