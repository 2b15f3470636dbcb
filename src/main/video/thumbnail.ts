// Thumbnails and frame images: JPEGs of a video's frames for the studio to show (a list's middle
// frame; the frames a model saw, beside its attention maps).
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ApiError } from '../../shared/errors';
import { lastLine, runFfmpeg } from './run';

/** Writes a JPEG of the middle frame, `width` pixels wide (height keeps the aspect), to `outPath`, atomically. */
export function makeThumbnail(ffmpeg: string, videoPath: string, durationS: number, outPath: string, width = 160): Promise<void> {
  return frameImage(ffmpeg, videoPath, durationS / 2, outPath, width);
}

/**
 * Writes a JPEG of the frame at `timeS`, `width` pixels wide, to `outPath`, atomically. ffmpeg can
 * end without error yet without a frame (a seek past the last frame of a one-frame clip, a time a
 * truncated file no longer holds); then the nearest earlier frame is taken, the first if need be,
 * and a video with no frame to decode is a bad_input error naming it.
 */
export async function frameImage(ffmpeg: string, videoPath: string, timeS: number, outPath: string, width = 160): Promise<void> {
  mkdirSync(dirname(outPath), { recursive: true });
  // Written beside and renamed, so a crash never leaves a half-written image under the real name.
  const partial = `${outPath}.${process.pid}.partial.jpg`;
  let why = 'ffmpeg decoded no frame';
  for (const at of timeS > 0 ? [timeS, 0] : [0]) {
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1',
      '-ss', at.toFixed(6), '-i', videoPath,
      '-frames:v', '1', '-vf', `scale=${width}:-2`, '-q:v', '4', '-update', '1', '-y', partial,
    ];
    const { code, stderr } = await runFfmpeg(ffmpeg, args);
    if (code === 0 && existsSync(partial)) {
      renameSync(partial, outPath);
      return;
    }
    rmSync(partial, { force: true });
    if (code !== 0) why = lastLine(stderr);
  }
  throw new ApiError('bad_input', `no frame of ${videoPath} could be decoded at ${timeS.toFixed(2)} s or at its start: ${why}`);
}

/** Whether a frame decodes at `timeS`: what a truncated file, whose header still promises more, fails. */
export async function decodesAt(ffmpeg: string, videoPath: string, timeS: number): Promise<boolean> {
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1', '-ss', timeS.toFixed(6), '-i', videoPath,
    '-frames:v', '1', '-vf', 'scale=8:8', '-pix_fmt', 'gray', '-f', 'rawvideo', '-',
  ];
  const { code, stdout } = await runFfmpeg(ffmpeg, args);
  return code === 0 && stdout.length === 64;
}
