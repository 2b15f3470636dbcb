// The engine transport in the desktop app: Electron's utilityProcess on the bundled
// engine-process.js, so ONNX Runtime never blocks or brings down the main process (which routes
// IPC, menus and the window) and a crash takes only the task that caused it.
import { utilityProcess } from 'electron';
import { join } from 'node:path';
import { engineEnv } from './engine-host/child-process';
import { EngineHost } from './engine-host/host';
import type { FromEngine } from './engine-host/protocol';

/** Beside index.js in out/main (electron.vite.config.ts builds both). */
const entry = join(import.meta.dirname, 'engine-process.js');

export function utilityProcessEngine(): EngineHost {
  return new EngineHost(() => {
    const child = utilityProcess.fork(entry, [], { serviceName: 'ISR Studio engine', stdio: 'inherit', env: engineEnv() });
    let exited = false;
    child.once('exit', () => (exited = true));
    return {
      get pid() {
        return child.pid;
      },
      send: (message) => {
        if (!exited) child.postMessage(message);
      },
      onMessage: (listener) => child.on('message', (message: FromEngine) => listener(message)),
      // Electron reports the exit code alone (a signal shows as its code).
      onExit: (listener) => child.once('exit', (code) => listener({ code, signal: null })),
      kill: () => {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      },
    };
  });
}
