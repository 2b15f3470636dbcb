// Thumbnails and frame images: JPEGs of a video's frames for the studio to show (a list's middle
// frame; the frames a model saw, beside its attention maps).
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ApiError } from '../../shared/errors';
import { lastLine, runFfmpeg } from './run';

/** Writes a JPEG of the middle frame, `width` pixels wide (height keeps the aspect), to `outPath`, atomically. */
export function makeThumbnail(ffmpeg: string, videoPath: string, durationS: number, outPath: string, width = 160): Promise<void> {
  return frameImage(ffmpeg, videoPath, durationS / 2, outPath, width);
}

/** Writes a JPEG of the frame at `timeS`, `width` pixels wide, to `outPath`, atomically. */
export async function frameImage(ffmpeg: string, videoPath: string, timeS: number, outPath: string, width = 160): Promise<void> {
  mkdirSync(dirname(outPath), { recursive: true });
  // Written beside and renamed, so a crash never leaves a half-written image under the real name.
  const partial = `${outPath}.partial.jpg`;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1',
    '-ss', timeS.toFixed(6), '-i', videoPath,
    '-frames:v', '1', '-vf', `scale=${width}:-2`, '-q:v', '4', '-y', partial,
  ];
  const { code, stderr } = await runFfmpeg(ffmpeg, args);
  if (code !== 0) {
    rmSync(partial, { force: true });
    throw new ApiError('bad_input', `could not make a thumbnail of ${videoPath}: ${lastLine(stderr)}`);
  }
  renameSync(partial, outPath);
}
