// Content hashes of files, streamed so a large video never sits in memory whole, and remembered per
// (path, size, modification time): a round asks for the same clip's frames and features many times.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';

const known = new Map<string, Promise<string>>();

export async function sha256File(path: string): Promise<string> {
  const info = await stat(path);
  const key = `${path}\0${info.size}\0${info.mtimeMs}`;
  let hash = known.get(key);
  if (!hash) {
    hash = (async () => {
      const h = createHash('sha256');
      for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
      return h.digest('hex');
    })();
    known.set(key, hash);
    // A failed read is not remembered: the next call tries again.
    hash.catch(() => known.delete(key));
  }
  return hash;
}
