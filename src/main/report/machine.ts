// Where a measurement was taken: what benchmarks and experiment reports print beside their figures.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';

/** CPU, cores, memory; Node, ONNX Runtime and platform. */
export function machineDescription(): { machine: string; runtime: string } {
  const ort = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  const cpus = os.cpus();
  return {
    machine: `${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores (as Node sees them), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    runtime: `Node ${process.version}, onnxruntime-node ${ort}, ${os.platform()} ${os.arch()}`,
  };
}

/** The commit of the git checkout holding `dir`, and whether its tree has changes; null outside git. */
export function gitCommit(dir: string): { commit: string; dirty: boolean } | null {
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', 'HEAD'), dirty: git('status', '--porcelain') !== '' };
  } catch {
    return null;
  }
}
