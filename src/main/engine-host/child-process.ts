// The engine transport under `serve`, the CLI and the tests: a forked Node process on
// engine-process.ts (through tsx, as bin/isr-studio.mjs runs the CLI) with an IPC channel.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EngineHost, type EngineHostOptions, type SpawnEngine } from './host';

const sourceEntry = fileURLToPath(new URL('./engine-process.ts', import.meta.url));
// An absolute loader URL, so the engine starts whatever the working directory.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The engine's environment: glibc returns the memory a session build frees (BENCHMARKS.md, memory:
 *  2.8 instead of 4.6 GB steady on a 0.5B stand-in, decode no slower); set before the process starts. */
export const engineEnv = (): NodeJS.ProcessEnv => ({ MALLOC_MMAP_THRESHOLD_: '131072', ...process.env });

export function forkEngine(entry: string = sourceEntry): SpawnEngine {
  return () => {
    const child = fork(entry, [], {
      execArgv: entry.endsWith('.ts') ? ['--import', tsxLoader] : [],
      // Structured clone: typed arrays and nested results cross as they are.
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: engineEnv(),
    });
    // A send to a process that just died reports here; its exit is what counts.
    child.on('error', () => {});
    return {
      pid: child.pid,
      send: (message) => {
        if (child.connected) child.send(message, () => {});
      },
      onMessage: (listener) => child.on('message', listener as (m: unknown) => void),
      onExit: (listener) => child.once('exit', (code, signal) => listener({ code, signal })),
      kill: () => child.kill('SIGKILL'),
    };
  };
}

/** The engine host of `serve`, the CLI and the tests. */
export function childProcessEngine(options?: EngineHostOptions): EngineHost {
  return new EngineHost(forkEngine(), options);
}
