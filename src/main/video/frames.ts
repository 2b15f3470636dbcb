// Sampling frames as raw RGB: N frames spread uniformly over the video, scaled to a given size.
import { ApiError } from '../../shared/errors';
import { lastLine, runFfmpeg } from './run';

export interface FrameSize {
  width: number;
  height: number;
}

/** Indices of N uniform samples out of `frameCount` frames: the middle frame of each of N equal
 *  spans, so the samples sit symmetrically and never on the clip's first or last instant. */
export function uniformFrameIndices(frameCount: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.min(frameCount - 1, Math.floor(((i + 0.5) * frameCount) / count)));
}

/** The first frame whose timestamp is at or after `timeS` (how ffmpeg's accurate input seek
 *  works), as rgb24 bytes (width * height * 3). */
export async function frameAt(ffmpeg: string, path: string, timeS: number, size: FrameSize): Promise<Uint8Array> {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1',
    // -ss before -i seeks on the input: fast, and exact since ffmpeg decodes from the keyframe.
    '-ss', timeS.toFixed(6), '-i', path,
    '-frames:v', '1', '-vf', `scale=${size.width}:${size.height}:flags=bilinear`,
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-',
  ];
  const { code, stdout, stderr } = await runFfmpeg(ffmpeg, args);
  const expected = size.width * size.height * 3;
  if (code !== 0 || stdout.length !== expected) {
    const why = code !== 0 ? lastLine(stderr) : `got ${stdout.length} bytes, expected ${expected}`;
    throw new ApiError('bad_input', `could not read a frame at ${timeS.toFixed(3)} s from ${path}: ${why}`);
  }
  return new Uint8Array(stdout.buffer, stdout.byteOffset, stdout.length);
}

/** Seek times of N uniform samples (see uniformFrameIndices): a quarter frame before each frame's
 *  timestamp, so rounding never skips to the next one. The model's frames and the ones the studio
 *  shows beside them come from the same times. */
export function uniformFrameTimes(info: { durationS: number; fps: number }, count: number): number[] {
  const frameCount = Math.max(1, Math.round(info.durationS * info.fps));
  return uniformFrameIndices(frameCount, count).map((index) => Math.max(0, (index - 0.25) / info.fps));
}

/** N frames sampled uniformly, in order; `info` comes from a probe. */
export async function sampleFrames(
  ffmpeg: string,
  path: string,
  info: { durationS: number; fps: number },
  count: number,
  size: FrameSize,
): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  // One at a time: the machines this runs on are small, and ffmpeg brings threads of its own.
  for (const t of uniformFrameTimes(info, count)) frames.push(await frameAt(ffmpeg, path, t, size));
  return frames;
}
