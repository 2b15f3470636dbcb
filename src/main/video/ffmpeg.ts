// Finding ffmpeg: FFMPEG_PATH, then the npm packages that ship one (ffmpeg-static, whose install
// downloads its binary and fails offline; @ffmpeg-installer/ffmpeg, whose per-platform packages
// carry it inside the tarball, so `npm install` alone gives one), then `ffmpeg` on PATH. The
// studio needs no ffprobe: it probes with `ffmpeg -i` (probe.ts).
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, sep } from 'node:path';
import { ApiError } from '../../shared/errors';
import type { FfmpegSource } from '../../shared/types';

export interface Ffmpeg {
  path: string;
  source: FfmpegSource;
}

/** An npm package that may provide the binary, and how to read its path from the package. */
export interface FfmpegPackage {
  source: Exclude<FfmpegSource, 'FFMPEG_PATH' | 'PATH'>;
  /** The path the package gives, or null when it is not installed (or has no binary for this platform). */
  locate(): Promise<string | null>;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Imports an optional dependency by a name that neither TypeScript nor a bundler resolves ahead of
 *  time (it is absent in many installs), reading the path it exports. */
async function packagePath(name: string, read: (mod: Record<string, unknown>) => unknown): Promise<string | null> {
  try {
    const found = read((await import(/* @vite-ignore */ name)) as Record<string, unknown>);
    // A packaged app keeps native binaries beside its archive (electron-builder's asarUnpack).
    return typeof found === 'string' ? found.replace(`${sep}app.asar${sep}`, `${sep}app.asar.unpacked${sep}`) : null;
  } catch {
    return null;
  }
}

export const ffmpegPackages: readonly FfmpegPackage[] = [
  { source: 'ffmpeg-static', locate: () => packagePath('ffmpeg-static', (m) => m.default) },
  { source: '@ffmpeg-installer/ffmpeg', locate: () => packagePath('@ffmpeg-installer/ffmpeg', (m) => (m.default as { path?: unknown } | undefined)?.path ?? m.path) },
];

function onPath(env: NodeJS.ProcessEnv): string | null {
  const exe = process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg';
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, exe))) return join(dir, exe);
  }
  return null;
}

/** Resolves the ffmpeg binary, or throws ApiError('ffmpeg_missing') naming every place looked. */
export async function resolveFfmpeg(env: NodeJS.ProcessEnv = process.env, packages: readonly FfmpegPackage[] = ffmpegPackages): Promise<Ffmpeg> {
  const fromEnv = env.FFMPEG_PATH;
  if (fromEnv) {
    // A path the user set on purpose and got wrong is an error, not a reason to pick another binary.
    if (isExecutable(fromEnv)) return { path: fromEnv, source: 'FFMPEG_PATH' };
    throw new ApiError('ffmpeg_missing', `FFMPEG_PATH is set to ${fromEnv}, which is not an executable file`);
  }
  for (const p of packages) {
    const found = await p.locate();
    if (found && isExecutable(found)) return { path: found, source: p.source };
  }
  const fromPath = onPath(env);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  throw new ApiError(
    'ffmpeg_missing',
    `ffmpeg not found: set FFMPEG_PATH to an ffmpeg binary, reinstall the npm package ${packages.map((p) => p.source).join(' or ')} (npm install), or put ffmpeg on your PATH`,
  );
}
