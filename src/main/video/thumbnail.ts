// Thumbnails: one JPEG per video from its middle frame, for lists in the studio.
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ApiError } from '../../shared/errors';
import { lastLine, runFfmpeg } from './run';

/** Writes a JPEG `width` pixels wide (height keeps the aspect) to `outPath`, atomically. */
export async function makeThumbnail(
  ffmpeg: string,
  videoPath: string,
  durationS: number,
  outPath: string,
  width = 160,
): Promise<void> {
  mkdirSync(dirname(outPath), { recursive: true });
  // Written beside and renamed, so a crash never leaves a half-written image under the real name.
  const partial = `${outPath}.partial.jpg`;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1',
    '-ss', (durationS / 2).toFixed(6), '-i', videoPath,
    '-frames:v', '1', '-vf', `scale=${width}:-2`, '-q:v', '4', '-y', partial,
  ];
  const { code, stderr } = await runFfmpeg(ffmpeg, args);
  if (code !== 0) {
    rmSync(partial, { force: true });
    throw new ApiError('bad_input', `could not make a thumbnail of ${videoPath}: ${lastLine(stderr)}`);
  }
  renameSync(partial, outPath);
}
