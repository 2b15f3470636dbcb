// CPU sessions are made from the graph ONNX Runtime optimised for this machine, written to a file
// and loaded with optimisation off (ONNX Runtime's offline optimisation: `optimizedModelFilePath`,
// then that file). The files are kept, so a session made again from the same graph (the next round's
// training step, a resumed run, another command on the same model) skips optimising it. An entry is
// keyed by everything that shapes it: the model's bytes (the graph and its inline constants; the
// weights a CPU session feeds are inputs, not part of them), the optimisation level,
// onnxruntime-node's version and the CPU (ONNX Runtime may choose kernels and layouts for the
// instruction set it finds). What it saves and what it cannot (most of a session's start is ONNX
// Runtime setting up the nodes): BENCHMARKS.md.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { arch, cpus, tmpdir } from 'node:os';
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
 * A CPU session of `model` loaded, with optimisation off, from the graph ONNX Runtime optimised for
 * this machine: the entry kept in `dir`, or else written now by a session made only to optimise it
 * (and kept in `dir`; with `dir` null, in a temporary folder removed once loaded). Always through
 * the file, because a checkpointed training step run by the session that optimised its graph holds
 * about twice the memory, with the same losses (docs/engine.md, engine settings). An entry ONNX
 * Runtime cannot load is made again; where no file can be written, the session optimises the graph itself.
 */
export async function loadOptimised(model: Uint8Array, options: ort.InferenceSession.SessionOptions, dir: string | null): Promise<ort.InferenceSession> {
  const folder = dir ?? mkdtempSync(join(tmpdir(), 'isr-graph-'));
  const file = graphCacheFile(folder, model, options);
  const fromFile = () => ort.InferenceSession.create(file, { ...options, graphOptimizationLevel: 'disabled' });
  try {
    if (existsSync(file)) {
      let session: ort.InferenceSession | undefined;
      try {
        session = await fromFile();
      } catch {
        removeQuietly(file);
      }
      if (session !== undefined) {
        touch(file);
        return session;
      }
    }
    const partial = `${file}.${process.pid}.partial`;
    try {
      mkdirSync(folder, { recursive: true });
      await (await ort.InferenceSession.create(model, { ...options, optimizedModelFilePath: partial })).release();
      renameSync(partial, file);
    } catch {
      removeQuietly(partial);
      return await ort.InferenceSession.create(model, options);
    }
    if (dir !== null) prune(dir);
    return await fromFile();
  } finally {
    if (dir === null) removeQuietly(folder);
  }
}

/** Removes a file or folder if it can; what is left behind is only a temporary file. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // An unwritable or vanished folder: nothing to clean.
  }
}

/** Marks an entry used (the cache keeps those used last); a file it cannot touch is only pruned sooner. */
function touch(file: string): void {
  try {
    const now = new Date();
    utimesSync(file, now, now);
  } catch {
    // Read-only cache: the entry still serves.
  }
}

/** Keeps the GRAPH_CACHE_ENTRIES most recently used entries, and removes partial files a killed
 *  process left over an hour ago; files another process removes meanwhile are skipped. */
function prune(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const entries = names.flatMap((f) => {
    try {
      return [{ path: join(dir, f), partial: f.endsWith('.partial'), used: statSync(join(dir, f)).mtimeMs }];
    } catch {
      return [];
    }
  });
  const stale = Date.now() - 3600_000;
  const kept = entries.filter((e) => !e.partial).sort((a, b) => b.used - a.used);
  for (const { path } of [...kept.slice(GRAPH_CACHE_ENTRIES), ...entries.filter((e) => e.partial && e.used < stale)]) removeQuietly(path);
}
