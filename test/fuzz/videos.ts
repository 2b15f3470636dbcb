// Bad videos (issue 23), each made in a folder of its own beside the dataset that names it:
// garbage bytes, 0 bytes, mp4s cut at random fractions, a 1-frame clip (valid), an mvhd whose
// duration is patched, names past 255 bytes or paths past PATH_MAX, symlink loops, folders, FIFOs,
// devices, missing files, and good clips under names a shell or ffmpeg might misread.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flatClip } from '../../src/main/video/testing/clips';
import { makeThumbnail } from '../../src/main/video/thumbnail';
import type { FuzzRng } from './rng';

/** What importing a row naming the video must give: stored, an issue on its video field, or either
 *  (a damaged file ffmpeg may still read whole). */
export type VideoOutcome = 'good' | 'bad' | 'either';

export interface VideoCase {
  description: string;
  /** The name the row gives (relative to the case's folder, or absolute). */
  name: string;
  outcome: VideoOutcome;
}

/** Where the mvhd box's duration field is, for version 0 (32-bit) or 1 (64-bit) boxes. */
function patchMvhdDuration(bytes: Buffer, factor: number | 'zero' | 'max'): boolean {
  const at = bytes.indexOf('mvhd');
  if (at < 0) return false;
  const version = bytes[at + 4];
  // version(1) flags(3) creation modification [timescale] duration
  const timescaleAt = at + 8 + (version === 1 ? 16 : 8);
  const durationAt = timescaleAt + 4;
  if (version === 1) {
    const d = bytes.readBigUInt64BE(durationAt);
    bytes.writeBigUInt64BE(factor === 'zero' ? 0n : factor === 'max' ? 0xffffffffffffffffn : d * BigInt(factor), durationAt);
  } else {
    const d = bytes.readUInt32BE(durationAt);
    bytes.writeUInt32BE(factor === 'zero' ? 0 : factor === 'max' ? 0xffffffff : Math.min(0xffffffff, d * factor), durationAt);
  }
  return true;
}

export const videoKinds = [
  'garbage', 'zero bytes', 'truncated', 'one frame', 'mvhd duration', 'name past 255 bytes', 'path past PATH_MAX',
  'symlink loop', 'dangling symlink', 'symlink to a clip', 'folder', 'fifo', 'device', 'missing', 'odd name', 'image', 'text',
] as const;
export type VideoKind = (typeof videoKinds)[number];

/** Makes the video of `kind` in `dir`; `clip` is a good clip to damage or copy. */
export async function makeVideo(kind: VideoKind, rng: FuzzRng, dir: string, clip: string, ffmpeg: string): Promise<VideoCase> {
  mkdirSync(dir, { recursive: true });
  const file = (name: string, bytes: Buffer | string) => (writeFileSync(join(dir, name), bytes), name);
  switch (kind) {
    case 'garbage': {
      const n = rng.int(1, 20_000);
      // Half look like an mp4 at first (an ftyp box), so the mov demuxer is the one that fails.
      const head = rng.chance(0.5) ? Buffer.from('\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2', 'latin1') : Buffer.alloc(0);
      return { description: `${n} random bytes${head.length ? ' after an ftyp box' : ''}`, name: file('garbage.mp4', Buffer.concat([head, rng.bytes(n)])), outcome: 'bad' };
    }
    case 'zero bytes':
      return { description: '0 bytes', name: file('zero.mp4', ''), outcome: 'bad' };
    case 'truncated': {
      const bytes = readFileSync(clip);
      const fraction = rng.next();
      const keep = Math.max(1, Math.floor(bytes.length * fraction));
      return { description: `an mp4 cut to ${keep} of its ${bytes.length} bytes (${(100 * fraction).toFixed(1)}%)`, name: file('cut.mp4', bytes.subarray(0, keep)), outcome: 'either' };
    }
    case 'one frame': {
      const size = rng.pick([[32, 24], [16, 16], [64, 48]]);
      await flatClip(ffmpeg, join(dir, 'one.mp4'), [[rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)]], { width: size[0], height: size[1], fps: rng.pick([1, 4, 25, 30]) });
      return { description: `a 1-frame ${size[0]}x${size[1]} clip`, name: 'one.mp4', outcome: 'good' };
    }
    case 'mvhd duration': {
      const bytes = Buffer.from(readFileSync(clip));
      const factor = rng.pick([2, 10, 1000, 'zero', 'max'] as const);
      patchMvhdDuration(bytes, factor);
      return { description: `mvhd duration patched (${factor === 'zero' || factor === 'max' ? factor : `x${factor}`})`, name: file('patched.mp4', bytes), outcome: 'either' };
    }
    case 'name past 255 bytes': {
      const name = `${rng.pick(['x', 'é', '字'])}`.repeat(rng.int(130, 300)) + '.mp4';
      return { description: `a name of ${Buffer.byteLength(name)} bytes`, name, outcome: 'bad' };
    }
    case 'path past PATH_MAX': {
      const name = Array.from({ length: rng.int(20, 40) }, (_, i) => `d${i}`.padEnd(200, 'y')).join('/') + '/v.mp4';
      return { description: `a path of ${Buffer.byteLength(name)} bytes`, name, outcome: 'bad' };
    }
    case 'symlink loop': {
      const n = rng.int(1, 3);
      for (let i = 0; i < n; i++) symlinkSync(`loop${(i + 1) % n}.mp4`, join(dir, `loop${i}.mp4`));
      return { description: `a loop of ${n} symbolic link(s)`, name: 'loop0.mp4', outcome: 'bad' };
    }
    case 'dangling symlink':
      symlinkSync('nowhere.mp4', join(dir, 'dangling.mp4'));
      return { description: 'a symbolic link to nothing', name: 'dangling.mp4', outcome: 'bad' };
    case 'symlink to a clip':
      symlinkSync(clip, join(dir, 'linked.mp4'));
      return { description: 'a symbolic link to a good clip', name: 'linked.mp4', outcome: 'good' };
    case 'folder':
      mkdirSync(join(dir, 'folder.mp4'));
      return { description: 'a folder named as a video', name: 'folder.mp4', outcome: 'bad' };
    case 'fifo':
      // ffmpeg would wait on a FIFO for ever: refused before it is opened.
      execFileSync('mkfifo', [join(dir, 'fifo.mp4')]);
      return { description: 'a FIFO', name: 'fifo.mp4', outcome: 'bad' };
    case 'device':
      return { description: 'a device', name: rng.pick(['/dev/zero', '/dev/null', '/dev/urandom']), outcome: 'bad' };
    case 'missing': {
      const name = rng.pick(['missing.mp4', 'sub/missing.mp4', 'new\nline.mp4', 'tab\there.mp4', 'quote".mp4', 'spa ce.mp4', '../../nowhere.mp4', 'esc\u001b[31m.mp4']);
      return { description: `a missing file ${JSON.stringify(name)}`, name, outcome: 'bad' };
    }
    case 'odd name': {
      const name = rng.pick(['-y.mp4', 'spa ce.mp4', 'caf\u00e9 字.mp4', 'quote".mp4', "apos'.mp4", 'new\nline.mp4', 'pct%d.mp4', 'concat:x.mp4', 'semi;rm -rf.mp4', '$(echo).mp4']);
      copyFileSync(clip, join(dir, name));
      return { description: `a good clip named ${JSON.stringify(name)}`, name, outcome: 'good' };
    }
    case 'image': {
      // A JPEG under an mp4 name: ffmpeg reads it by its content; a still with no duration may or may not do.
      await makeThumbnail(ffmpeg, clip, 0.2, join(dir, 'still.mp4.jpg'), 32);
      copyFileSync(join(dir, 'still.mp4.jpg'), join(dir, 'still.mp4'));
      return { description: 'a JPEG named .mp4', name: 'still.mp4', outcome: 'either' };
    }
    case 'text':
      return { description: 'a text file named .mp4', name: file('notes.mp4', 'just some notes\n'.repeat(rng.int(1, 100))), outcome: 'bad' };
  }
}
