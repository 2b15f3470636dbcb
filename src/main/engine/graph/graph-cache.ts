// The graphs ONNX Runtime optimised for this machine, kept on disk so a session made again from the
// same graph (the next round's training step, a resumed run, another command on the same model)
// skips optimising it: ONNX Runtime's offline optimisation, `optimizedModelFilePath` when a session is
// first made, then that file loaded with optimisation off. An entry is keyed by everything that
// shapes it: the model's bytes (the graph and its inline constants; the weights a CPU session feeds
// are inputs, not part of them), the optimisation level, onnxruntime-node's version and the CPU
// (ONNX Runtime may choose kernels and layouts for the instruction set it finds). The gain and what
// it cannot save (most of a session's start is ONNX Runtime setting up the nodes): BENCHMARKS.md.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { arch, cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';

/** Entries kept; the least recently used go first. Each is a graph without its fed weights: kilobytes to a few megabytes. */
export const GRAPH_CACHE_ENTRIES = 64;

/** The cache file of `model` made with `options`. */
export function graphCacheFile(dir: string, model: Uint8Array, options: ort.InferenceSession.SessionOptions): string {
  const hash = createHash('sha256');
  hash.update(model);
  hash.update(JSON.stringify([options.graphOptimizationLevel ?? 'all', ort.env.versions.node ?? '', arch(), cpus()[0]?.model ?? '']));
  return join(dir, `${hash.digest('hex').slice(0, 32)}.onnx`);
}

/**
 * A CPU session of `model` through the cache in `dir`: from the optimised graph kept there, or made
 * and optimised as usual, its optimised graph then kept. An entry ONNX Runtime cannot load is made
 * again; a cache that cannot be written costs only the time it would have saved.
 */
export async function loadThroughCache(model: Uint8Array, options: ort.InferenceSession.SessionOptions, dir: string): Promise<ort.InferenceSession> {
  const file = graphCacheFile(dir, model, options);
  if (existsSync(file)) {
    try {
      const session = await ort.InferenceSession.create(file, { ...options, graphOptimizationLevel: 'disabled' });
      const now = new Date();
      utimesSync(file, now, now);
      return session;
    } catch {
      rmSync(file, { force: true });
    }
  }
  const partial = `${file}.${process.pid}.partial`;
  let writable = true;
  try {
    mkdirSync(dir, { recursive: true });
  } catch {
    writable = false;
  }
  const session = await ort.InferenceSession.create(model, writable ? { ...options, optimizedModelFilePath: partial } : options);
  if (writable) {
    try {
      renameSync(partial, file);
      prune(dir);
    } catch {
      rmSync(partial, { force: true });
    }
  }
  return session;
}

/** Keeps the GRAPH_CACHE_ENTRIES most recently used entries. */
function prune(dir: string): void {
  const entries = readdirSync(dir).filter((f) => f.endsWith('.onnx')).map((f) => ({ path: join(dir, f), used: statSync(join(dir, f)).mtimeMs }));
  entries.sort((a, b) => b.used - a.used);
  for (const { path } of entries.slice(GRAPH_CACHE_ENTRIES)) rmSync(path, { force: true });
}
