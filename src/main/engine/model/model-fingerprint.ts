// A model folder's identity by content, for the model registry: two folders with the same config
// and weights are the same model wherever they lie, and a retrained folder is a new one.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

async function hashInto(hash: Hash, path: string): Promise<number> {
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return bytes;
}

const fingerprints = new Map<string, Promise<string>>();

/**
 * sha256 over config.json and every *.safetensors file of a model folder (names, contents and
 * lengths, streamed). Memoised per (folder, and each file's size and mtime) for the process, so a
 * folder is read once unless a file in it changes.
 */
export async function modelFingerprint(dir: string): Promise<string> {
  const root = resolve(dir);
  const names = ['config.json', ...(await readdir(root)).filter((n) => n.endsWith('.safetensors')).sort()];
  const stats = await Promise.all(names.map((n) => stat(join(root, n))));
  const memo = JSON.stringify([root, names.map((n, i) => [n, stats[i].size, stats[i].mtimeMs])]);
  let fingerprint = fingerprints.get(memo);
  if (fingerprint === undefined) {
    fingerprint = (async () => {
      const hash = createHash('sha256');
      for (const name of names) {
        hash.update(`${name}\0`);
        const bytes = await hashInto(hash, join(root, name));
        hash.update(`\0${bytes}\0`);
      }
      return hash.digest('hex');
    })();
    fingerprints.set(memo, fingerprint);
    fingerprint.catch(() => fingerprints.delete(memo));
  }
  return fingerprint;
}
