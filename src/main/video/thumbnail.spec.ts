import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from './ffmpeg';
import { runFfmpeg } from './run';
import { flatClip } from './testing/clips';
import { makeThumbnail } from './thumbnail';

let ffmpeg: string;
let dir: string;
beforeAll(async () => {
  ffmpeg = (await resolveFfmpeg()).path;
  dir = mkdtempSync(join(tmpdir(), 'isr-thumb-'));
});

describe('makeThumbnail', () => {
  it('writes a JPEG of the requested width keeping the aspect ratio', async () => {
    const clip = join(dir, 'c.mp4');
    await flatClip(ffmpeg, clip, Array(6).fill([10, 200, 10]), { width: 64, height: 48, fps: 6 });
    const out = join(dir, 'thumbs', '1.jpg');
    await makeThumbnail(ffmpeg, clip, 1, out, 32);
    expect([...readFileSync(out).subarray(0, 2)]).toEqual([0xff, 0xd8]);
    const { stderr } = await runFfmpeg(ffmpeg, ['-hide_banner', '-i', out]);
    expect(stderr).toMatch(/mjpeg.*32x24/);
  });

  it('fails with the video named and leaves no partial file behind', async () => {
    const bad = join(dir, 'bad.mp4');
    writeFileSync(bad, 'not a video');
    const out = join(dir, 'bad-thumbs', '2.jpg');
    await expect(makeThumbnail(ffmpeg, bad, 1, out)).rejects.toThrow(bad);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(dir, 'bad-thumbs'))).toEqual([]);
  });
});
