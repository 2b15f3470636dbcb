// Sampling frames as raw RGB at the video's own size: N frames spread uniformly over the video.
// Resizing to the model's input is the processor's (engine/model/preprocess.ts), not ffmpeg's.
import type { RgbImage } from '../engine/model/resize';
import { ApiError } from '../../shared/errors';
import { lastLine, runFfmpeg } from './run';

/** An rgb24 frame at the size ffmpeg decodes it (after the stream's rotation, if any). */
export type RgbFrame = RgbImage;

/** Indices of N uniform samples out of `frameCount` frames: the middle frame of each of N equal
 *  spans, so the samples sit symmetrically and never on the clip's first or last instant. */
export function uniformFrameIndices(frameCount: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.min(frameCount - 1, Math.floor(((i + 0.5) * frameCount) / count)));
}

/** The first frame whose timestamp is at or after `timeS` (how ffmpeg's accurate input seek
 *  works), as rgb24 at its own size. Written as PPM, whose header gives that size: the stream's
 *  probed size can differ (a rotated phone video decodes with its edges swapped). */
export async function frameAt(ffmpeg: string, path: string, timeS: number): Promise<RgbFrame> {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1',
    // -ss before -i seeks on the input: fast, and exact since ffmpeg decodes from the keyframe.
    '-ss', timeS.toFixed(6), '-i', path,
    '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'ppm', '-pix_fmt', 'rgb24', '-',
  ];
  const { code, stdout, stderr } = await runFfmpeg(ffmpeg, args);
  const frame = code === 0 ? readPpm(stdout) : lastLine(stderr);
  if (typeof frame === 'string') {
    throw new ApiError('bad_input', `could not read a frame at ${timeS.toFixed(3)} s from ${path}: ${frame}`);
  }
  return frame;
}

/** A binary PPM (P6, maxval 255) as an rgb24 frame, or why it is not one. */
function readPpm(bytes: Buffer): RgbFrame | string {
  const header = /^P6\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(bytes.subarray(0, 64).toString('latin1'));
  if (!header) return bytes.length === 0 ? 'ffmpeg wrote no frame' : 'ffmpeg wrote something other than a PPM frame';
  const [width, height, maxval] = header.slice(1).map(Number);
  const expected = header[0].length + width * height * 3;
  if (maxval !== 255 || bytes.length !== expected) return `got ${bytes.length} bytes, expected ${expected} for ${width}x${height} rgb24`;
  return { width, height, data: new Uint8Array(bytes.buffer, bytes.byteOffset + header[0].length, width * height * 3) };
}

/** Seek times of N uniform samples (see uniformFrameIndices): a quarter frame before each frame's
 *  timestamp, so rounding never skips to the next one. The model's frames and the ones the studio
 *  shows beside them come from the same times. */
export function uniformFrameTimes(info: { durationS: number; fps: number }, count: number): number[] {
  const frameCount = Math.max(1, Math.round(info.durationS * info.fps));
  return uniformFrameIndices(frameCount, count).map((index) => Math.max(0, (index - 0.25) / info.fps));
}

/** N frames sampled uniformly, in order, each at its own size; `info` comes from a probe. */
export async function sampleFrames(ffmpeg: string, path: string, info: { durationS: number; fps: number }, count: number): Promise<RgbFrame[]> {
  const frames: RgbFrame[] = [];
  // One at a time: the machines this runs on are small, and ffmpeg brings threads of its own.
  for (const t of uniformFrameTimes(info, count)) frames.push(await frameAt(ffmpeg, path, t));
  return frames;
}
