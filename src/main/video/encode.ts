// Encoding raw RGB frames into an mp4: H.264 (yuv420p) where ffmpeg has libx264, MPEG-4 otherwise.
import { ApiError } from '../../shared/errors';
import { lastLine, runFfmpeg, write } from './run';

export interface EncodeSettings {
  width: number;
  height: number;
  fps: number;
}

const encoderCache = new Map<string, Promise<string[]>>();

/** Codec arguments for this ffmpeg build, asked once per binary. */
function codecArgs(ffmpeg: string): Promise<string[]> {
  let args = encoderCache.get(ffmpeg);
  if (!args) {
    args = runFfmpeg(ffmpeg, ['-hide_banner', '-encoders']).then(({ stdout }) =>
      /\blibx264\b/.test(stdout.toString('utf8'))
        ? ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p']
        : ['-c:v', 'mpeg4', '-q:v', '2', '-pix_fmt', 'yuv420p'],
    );
    encoderCache.set(ffmpeg, args);
  }
  return args;
}

/** Encodes `frames` (rgb24, width * height * 3 bytes each) to `outPath`. The bitexact flags and
 *  one thread make the file a function of the frames alone, so seeded data is reproducible. */
export async function encodeRgbVideo(
  ffmpeg: string,
  outPath: string,
  frames: Iterable<Uint8Array>,
  settings: EncodeSettings,
): Promise<void> {
  const { width, height, fps } = settings;
  const args = [
    '-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-r', String(fps), '-i', '-',
    ...(await codecArgs(ffmpeg)),
    '-threads', '1', '-fflags', '+bitexact', '-flags:v', '+bitexact', '-map_metadata', '-1',
    '-movflags', '+faststart', '-y', outPath,
  ];
  const frameBytes = width * height * 3;
  const result = await runFfmpeg(ffmpeg, args, {
    feed: async (stdin) => {
      for (const frame of frames) {
        if (frame.length !== frameBytes) throw new Error(`frame has ${frame.length} bytes, expected ${frameBytes}`);
        await write(stdin, frame);
      }
    },
  });
  if (result.code !== 0) {
    throw new ApiError('internal', `ffmpeg could not encode ${outPath}: ${lastLine(result.stderr)}`);
  }
}
