// Probing a video with ffmpeg alone (`ffmpeg -i`), since ffmpeg-static ships no ffprobe.
import { ApiError } from '../../shared/errors';
import { lastLine, runFfmpeg } from './run';

export interface VideoInfo {
  durationS: number;
  width: number;
  height: number;
  fps: number;
}

/** Reads duration, size and frame rate from the banner `ffmpeg -i` prints for its input. */
export function parseProbe(stderr: string): VideoInfo | { error: string } {
  const duration = /Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(stderr);
  const stream = /Stream #\d+:\d+.*?: Video: (.*)/.exec(stderr);
  if (!stream) return { error: 'no video stream' };
  const size = /(?:^|[ ,])(\d{1,5})x(\d{1,5})(?=[ ,[]|$)/.exec(stream[1]);
  // `fps` is the stream's average rate; `tbr` a guess ffmpeg falls back on when that is unknown.
  const rate = /([\d.]+)(k?) fps/.exec(stream[1]) ?? /([\d.]+)(k?) tbr/.exec(stream[1]);
  if (!size) return { error: 'no frame size in the video stream' };
  if (!rate) return { error: 'no frame rate in the video stream' };
  if (!duration) return { error: 'no duration' };
  const durationS = Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]);
  if (!(durationS > 0)) return { error: 'duration is zero' };
  return {
    durationS,
    width: Number(size[1]),
    height: Number(size[2]),
    fps: Number(rate[1]) * (rate[2] === 'k' ? 1000 : 1),
  };
}

/** Probes a video file; ApiError('bad_input') naming the file when ffmpeg cannot read it. */
export async function probeVideo(ffmpeg: string, path: string): Promise<VideoInfo> {
  const { code, stderr } = await runFfmpeg(ffmpeg, ['-hide_banner', '-nostdin', '-i', path]);
  const info = code === null ? { error: lastLine(stderr) } : parseProbe(stderr);
  if ('error' in info) {
    // ffmpeg's own last line says why (e.g. "Invalid data found when processing input"); it
    // starts with the path, which the message already names.
    const hasInput = code === null || /^Input #0/m.test(stderr);
    const why = hasInput ? info.error : lastError(stderr, path);
    throw new ApiError('bad_input', `${path} is not a video ffmpeg can read: ${why}`);
  }
  return info;
}

function lastError(stderr: string, path: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1) ?? 'ffmpeg gave no reason';
  return last.startsWith(`${path}: `) ? last.slice(path.length + 2) : last;
}
