// Finding ffmpeg: FFMPEG_PATH, then the optional ffmpeg-static package, then `ffmpeg` on PATH.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ApiError } from '../../shared/errors';

export type FfmpegSource = 'FFMPEG_PATH' | 'ffmpeg-static' | 'PATH';

export interface Ffmpeg {
  path: string;
  source: FfmpegSource;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

async function ffmpegStatic(): Promise<string | null> {
  // An optional dependency: absent in many installs, so imported by a name that neither
  // TypeScript nor a bundler tries to resolve ahead of time.
  const name = 'ffmpeg-static';
  try {
    const mod = (await import(/* @vite-ignore */ name)) as { default?: unknown };
    return typeof mod.default === 'string' ? mod.default : null;
  } catch {
    return null;
  }
}

function onPath(env: NodeJS.ProcessEnv): string | null {
  const exe = process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg';
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, exe))) return join(dir, exe);
  }
  return null;
}

/** Resolves the ffmpeg binary, or throws ApiError('ffmpeg_missing') naming every place looked. */
export async function resolveFfmpeg(env: NodeJS.ProcessEnv = process.env): Promise<Ffmpeg> {
  const fromEnv = env.FFMPEG_PATH;
  if (fromEnv) {
    // A path the user set on purpose and got wrong is an error, not a reason to pick another binary.
    if (isExecutable(fromEnv)) return { path: fromEnv, source: 'FFMPEG_PATH' };
    throw new ApiError('ffmpeg_missing', `FFMPEG_PATH is set to ${fromEnv}, which is not an executable file`);
  }
  const fromPackage = await ffmpegStatic();
  if (fromPackage && isExecutable(fromPackage)) return { path: fromPackage, source: 'ffmpeg-static' };
  const fromPath = onPath(env);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  throw new ApiError(
    'ffmpeg_missing',
    'ffmpeg not found: set FFMPEG_PATH to an ffmpeg binary, install the optional npm package ffmpeg-static, or put ffmpeg on your PATH',
  );
}
