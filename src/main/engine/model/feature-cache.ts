// Vision features on disk, keyed by everything that determines them (the video's content, the frame
// count and size, the model's vision weights), so describing, judging and training the same clip run the
// vision tower once. An entry is written to a private .partial file and renamed into place, so a
// reader sees a whole entry or none; each entry repeats its key and length in a header, so a
// truncated, foreign or colliding file reads as a miss, never as features.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface FeatureKey {
  /** Content sha256 of the video file. */
  video: string;
  frames: number;
  frameSize: number;
  /** The model's visionFingerprint (VideoLanguageModel). */
  model: string;
}

// Layout: magic (8 bytes) | key length u32 LE | element count u64 LE | key JSON (UTF-8) | float32 LE data.
// The magic's number changes when the same key comes to mean other features, so older entries read
// as misses: 2 since frames are resized as the checkpoint's processor does (no longer by ffmpeg).
const MAGIC = Buffer.from('ISRFEAT2', 'latin1');
const HEADER = MAGIC.length + 4 + 8;

/** The key as one string in a fixed field order (extra properties of the object are not part of it). */
function canonicalKey(key: FeatureKey): string {
  const { video, frames, frameSize, model } = key;
  if (typeof video !== 'string' || video === '' || typeof model !== 'string' || model === '') {
    throw new Error('a feature key needs the video and model hashes');
  }
  if (!(Number.isInteger(frames) && frames > 0 && Number.isInteger(frameSize) && frameSize > 0)) {
    throw new Error(`a feature key needs whole positive frames and frameSize, got ${frames} and ${frameSize}`);
  }
  return JSON.stringify({ video, frames, frameSize, model });
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The floats of an entry, or null when the bytes are not a whole entry for `key`. */
function decode(bytes: Buffer, key: string): Float32Array | null {
  if (bytes.length < HEADER || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) return null;
  const keyLength = bytes.readUInt32LE(MAGIC.length);
  const count = Number(bytes.readBigUInt64LE(MAGIC.length + 4));
  const dataAt = HEADER + keyLength;
  if (dataAt > bytes.length || bytes.toString('utf8', HEADER, dataAt) !== key) return null;
  if (bytes.length !== dataAt + count * 4) return null;
  const out = new Float32Array(count);
  new Uint8Array(out.buffer).set(bytes.subarray(dataAt));
  return out;
}

export class FeatureCache {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    return join(this.dir, `${sha256(key)}.features`);
  }

  get(key: FeatureKey): Float32Array | null {
    const canonical = canonicalKey(key);
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.file(canonical));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return decode(bytes, canonical);
  }

  put(key: FeatureKey, data: Float32Array): void {
    const canonical = canonicalKey(key);
    const keyBytes = Buffer.from(canonical, 'utf8');
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header);
    header.writeUInt32LE(keyBytes.length, MAGIC.length);
    header.writeBigUInt64LE(BigInt(data.length), MAGIC.length + 4);
    const file = this.file(canonical);
    const partial = `${file}.${process.pid}.partial`;
    mkdirSync(this.dir, { recursive: true });
    try {
      const fd = openSync(partial, 'w');
      try {
        for (const part of [header, keyBytes, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]) {
          for (let at = 0; at < part.length;) at += writeSync(fd, part, at);
        }
        // On disk before the rename makes it visible, so a crash cannot leave a named entry of holes.
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(partial, file);
    } catch (err) {
      rmSync(partial, { force: true });
      throw err;
    }
  }
}
