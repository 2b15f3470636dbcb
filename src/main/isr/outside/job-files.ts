// What every job handed outside the studio holds (docs/scale.md): a folder with the round's data,
// its videos and starting policy (hard links where the file system allows, else copies; or left
// where they are, named by absolute path), job.json with everything the scripts need, the scripts
// themselves (resources/jobs/, copied as they are) and a README.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../../../shared/errors';
import type { VideoRecord } from '../../store/videos';
import { uniformFrameTimes } from '../../video/frames';
import type { OutsideRound } from './outside-round';

export type JobFormat = 'trl-job' | 'vllm-job';

// resources/jobs in the source tree; a bundled build would carry them beside its bundle (./jobs).
const bundled = fileURLToPath(new URL('./jobs/', import.meta.url));
export const jobResourcesDir = existsSync(bundled) ? bundled : fileURLToPath(new URL('../../../../resources/jobs/', import.meta.url));

/** How the job carries what it needs from this machine. */
export interface JobPlacement {
  /** Link or copy the videos into DIR/videos (else the job names them by absolute path). */
  copyVideos: boolean;
  /** Link or copy the policy's folder into DIR/policy (else the job names it by absolute path). */
  copyModel: boolean;
}

/** The job folder, made when missing; one holding anything but an earlier job is refused. */
export function startJobDir(out: string, format: JobFormat): string {
  const dir = resolve(out);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new ApiError('bad_input', `${dir} is a file: the job needs a folder`);
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes('job.json')) throw new ApiError('bad_input', `${dir} is not empty and holds no earlier job (job.json): give an empty or new folder`);
    if (entries.includes('job.json')) {
      const earlier = (JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8')) as { format?: unknown }).format;
      if (earlier !== format) throw new ApiError('bad_input', `${dir} holds a ${String(earlier)} job: give another folder for the ${format} job`);
    }
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A hard link where the file system allows one (no bytes copied, any size), else a copy. */
function linkOrCopy(from: string, to: string): void {
  if (existsSync(to)) return;
  try {
    linkSync(from, to);
  } catch {
    copyFileSync(from, to);
  }
}

/** Each video's path as the job names it: `videos/<id>-<name>` inside the job, or its absolute path. */
export function placeVideos(dir: string, videos: readonly VideoRecord[], copy: boolean): Map<number, string> {
  const placed = new Map<number, string>();
  if (copy) mkdirSync(join(dir, 'videos'), { recursive: true });
  for (const v of videos) {
    if (placed.has(v.id)) continue;
    if (!copy) {
      placed.set(v.id, v.path);
      continue;
    }
    const name = `videos/${v.id}-${basename(v.path)}`;
    linkOrCopy(v.path, join(dir, name));
    placed.set(v.id, name);
  }
  return placed;
}

/** The policy folder as the job names it: `policy` inside the job, or its absolute path. */
export function placePolicy(dir: string, policyPath: string, copy: boolean): string {
  if (!copy) return policyPath;
  const to = join(dir, 'policy');
  mkdirSync(to, { recursive: true });
  for (const file of readdirSync(policyPath)) if (statSync(join(policyPath, file)).isFile()) linkOrCopy(join(policyPath, file), join(to, file));
  return 'policy';
}

/** The scripts of a job, copied from resources/jobs/ as they are. */
export function copyScripts(dir: string, names: readonly string[]): void {
  for (const name of names) copyFileSync(join(jobResourcesDir, name), join(dir, name));
}

export function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The times the studio reads a video's frames at (video/frames.ts: ffmpeg's accurate seek to the
 *  first frame at or after each), from what probing found at import. */
export const frameTimes = (video: VideoRecord, frames: number): number[] => uniformFrameTimes(video, frames);

/** The part of job.json every job shares: which round it is, the policy it starts from, how frames are read. */
export function jobHeader(format: JobFormat, o: OutsideRound, policy: string) {
  return {
    format,
    run: o.run.id,
    round: o.round.round,
    mode: o.run.mode,
    policy: {
      path: policy,
      family: o.policy.family,
      // The studio's content hash of the folder, and config.json's sha256, which the scripts check.
      fingerprint: o.policy.fingerprint,
      config_sha256: createHash('sha256').update(readFileSync(join(o.policy.path, 'config.json'))).digest('hex'),
    },
    frames: {
      count: o.settings.frames,
      how: 'each frame is the first at or after its time (ffmpeg -ss TIME -i VIDEO -frames:v 1), decoded as rgb24 at the video\'s own size; the processor resizes it',
    },
  };
}
