// A disk cache of sampled frames, keyed by the video's content hash and the frame count, so a
// renamed or copied video hits and an edited one misses. Frames are kept at the video's own size,
// before any model's resizing, so every model reads the same entry (8 frames of 1080p are ~50 MB).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleFrames, type RgbFrame } from './frames';
import { sha256File } from './hash';
import { probeVideo } from './probe';

// An entry is its frames in order, each a header (width, height: uint32 little-endian) then rgb24.
const HEADER = 8;

export class FrameCache {
  constructor(readonly dir: string) {}

  /** File holding `count` frames of the video with content hash `sha256`. */
  entryPath(sha256: string, count: number): string {
    return join(this.dir, `${sha256}-${count}f.frames`);
  }

  /** `count` uniformly sampled rgb24 frames of `videoPath` at its own size, from the cache when there. */
  async frames(ffmpeg: string, videoPath: string, count: number): Promise<RgbFrame[]> {
    const entry = this.entryPath(await sha256File(videoPath), count);
    const cached = readEntry(entry, count);
    if (cached) return cached;

    const info = await probeVideo(ffmpeg, videoPath);
    const frames = await sampleFrames(ffmpeg, videoPath, info, count);
    mkdirSync(this.dir, { recursive: true });
    // Written beside and renamed: readers see a whole entry or none.
    const partial = `${entry}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.concat(frames.flatMap((f) => [header(f), f.data])));
    renameSync(partial, entry);
    return frames;
  }
}

function header(frame: RgbFrame): Buffer {
  const bytes = Buffer.alloc(HEADER);
  bytes.writeUInt32LE(frame.width, 0);
  bytes.writeUInt32LE(frame.height, 4);
  return bytes;
}

/** The entry's `count` frames, or null when it is missing or does not parse to exactly that many
 *  whole frames (never trusted). */
function readEntry(path: string, count: number): RgbFrame[] | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return null;
  }
  const frames: RgbFrame[] = [];
  let at = 0;
  while (frames.length < count && at + HEADER <= bytes.length) {
    const width = bytes.readUInt32LE(at);
    const height = bytes.readUInt32LE(at + 4);
    const length = width * height * 3;
    if (length === 0 || at + HEADER + length > bytes.length) return null;
    frames.push({ width, height, data: new Uint8Array(bytes.buffer, bytes.byteOffset + at + HEADER, length) });
    at += HEADER + length;
  }
  return frames.length === count && at === bytes.length ? frames : null;
}
