// A disk cache of sampled frames, keyed by the video's content hash and the sampling settings,
// so a renamed or copied video hits and an edited one misses.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sampleFrames, type FrameSize } from './frames';
import { sha256File } from './hash';
import { probeVideo } from './probe';

export class FrameCache {
  constructor(readonly dir: string) {}

  /** File holding `count` frames of `size` for the video with content hash `sha256`. */
  entryPath(sha256: string, count: number, size: FrameSize): string {
    return join(this.dir, `${sha256}-${count}f-${size.width}x${size.height}.rgb`);
  }

  /** `count` uniformly sampled rgb24 frames of `videoPath` at `size`, from the cache when there. */
  async frames(ffmpeg: string, videoPath: string, count: number, size: FrameSize): Promise<Uint8Array[]> {
    const entry = this.entryPath(await sha256File(videoPath), count, size);
    const frameBytes = size.width * size.height * 3;
    const cached = readIfComplete(entry, frameBytes * count);
    if (cached) return split(cached, frameBytes, count);

    const info = await probeVideo(ffmpeg, videoPath);
    const frames = await sampleFrames(ffmpeg, videoPath, info, count, size);
    mkdirSync(this.dir, { recursive: true });
    // Written beside and renamed: readers see a whole entry or none.
    const partial = `${entry}.${process.pid}.partial`;
    writeFileSync(partial, Buffer.concat(frames));
    renameSync(partial, entry);
    return frames;
  }
}

/** The entry's bytes, or null when it is missing or not the expected length (never trusted). */
function readIfComplete(path: string, length: number): Buffer | null {
  try {
    const bytes = readFileSync(path);
    return bytes.length === length ? bytes : null;
  } catch {
    return null;
  }
}

function split(bytes: Buffer, frameBytes: number, count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => new Uint8Array(bytes.buffer, bytes.byteOffset + i * frameBytes, frameBytes));
}
