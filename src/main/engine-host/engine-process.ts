// The engine process's entry: receives one task, runs it, reports progress and its outcome, exits.
// The same file runs as a Node child process (IPC over process.send) and as an Electron
// utilityProcess (process.parentPort).
import { toErrorShape } from '../../shared/errors';
import type { JobOverall } from '../../shared/jobs';
import type { FromEngine, ToEngine } from './protocol';
import { engineTasks, type EngineTaskName } from './tasks';

interface ParentPort {
  on(event: 'message', listener: (event: { data: ToEngine }) => void): void;
  postMessage(message: FromEngine): void;
}

const electronPort = (process as { parentPort?: ParentPort }).parentPort;
const post = (message: FromEngine) => (electronPort ? electronPort.postMessage(message) : process.send?.(message));
const onMessage = (listener: (message: ToEngine) => void) =>
  electronPort ? electronPort.on('message', (event) => listener(event.data)) : process.on('message', listener as (m: unknown) => void);

const abort = new AbortController();
// Ctrl-C in a terminal reaches the whole process group: the studio decides when its engine stops.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => abort.abort());
// The studio is gone (killed, crashed): nothing would read what comes next, and a resumed run must
// not meet a second writer. The database is valid at every commit, so stopping here loses nothing.
process.on('disconnect', () => process.exit(1));

let started = false;
onMessage((message) => {
  if (message.type === 'cancel') abort.abort();
  else if (message.type === 'exit') process.exit(0);
  else if (!started) {
    started = true;
    void runTask(message.task, message.input);
  }
});

async function runTask(name: string, input: unknown): Promise<void> {
  try {
    if (!Object.hasOwn(engineTasks, name)) throw new Error(`the engine has no task "${name}"`);
    const task = engineTasks[name as EngineTaskName] as (input: unknown, ctx: unknown) => Promise<unknown>;
    const result = await task(input, {
      signal: abort.signal,
      progress: (phase: string, done: number, total: number, detail?: string, overall?: JobOverall) => post({ type: 'progress', phase, done, total, detail, overall }),
    });
    post({ type: 'done', result });
  } catch (err) {
    post({ type: 'failed', error: toErrorShape(err) });
  }
}
