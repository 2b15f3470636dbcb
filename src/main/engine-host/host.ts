// The studio's side of the engine: each task runs in a fresh engine process (engine-process.ts),
// started by a transport (a Node child process here and under `serve` and the CLI, Electron's
// utilityProcess in the app). Progress comes back as messages, cancel goes out as one, and a
// process that ends without an outcome (a kill, a native abort, out of memory) fails its task with
// an error that says how it ended, while the studio goes on serving.
import { ApiError } from '../../shared/errors';
import type { FromEngine, ToEngine } from './protocol';
import type { EngineTaskContext, EngineTaskName, TaskInput, TaskResult } from './tasks';

/** How an engine process ended: its exit code, or the signal that ended it (where the transport says). */
export interface EngineExit {
  code: number | null;
  signal: string | null;
}

/** One engine process, as a transport starts it. */
export interface EngineProcess {
  readonly pid: number | undefined;
  /** Dropped once the process is gone: a cancel racing an exit is not an error. */
  send(message: ToEngine): void;
  onMessage(listener: (message: FromEngine) => void): void;
  onExit(listener: (exit: EngineExit) => void): void;
  /** SIGKILL: for a process that did not stop when asked. */
  kill(): void;
}

export type SpawnEngine = () => EngineProcess;

export interface EngineHostOptions {
  /** How long close() waits for a cancelled task to stop before killing its process. */
  stopGraceMs?: number;
}

/** Why a process ended without an outcome, in words a user can act on. */
export function describeExit({ code, signal }: EngineExit): string {
  if (signal === 'SIGKILL') return 'was killed (SIGKILL: out of memory, or killed from outside)';
  if (signal === 'SIGABRT' || code === 134) return 'aborted (SIGABRT: a native library failed)';
  if (signal === 'SIGSEGV' || code === 139) return 'crashed (SIGSEGV in native code)';
  if (signal !== null) return `was ended by ${signal}`;
  return `exited with code ${code}`;
}

export class EngineHost {
  private readonly live = new Set<{ process: EngineProcess; exited: Promise<void> }>();
  private closing = false;

  constructor(
    private readonly spawn: SpawnEngine,
    private readonly options: EngineHostOptions = {},
  ) {}

  /** Runs `task` in a new engine process; resolves once the process has exited after its outcome. */
  run<N extends EngineTaskName>(task: N, input: TaskInput<N>, ctx: EngineTaskContext, title: string = task): Promise<TaskResult<N>> {
    if (this.closing) return Promise.reject(new ApiError('cancelled', `${title}: the studio is closing`));
    if (ctx.signal.aborted) return Promise.reject(new ApiError('cancelled', `${title}: cancelled`));
    const child = this.spawn();
    let outcome: { ok: true; result: unknown } | { ok: false; error: ApiError } | null = null;
    let markExited!: () => void;
    const entry = { process: child, exited: new Promise<void>((resolve) => (markExited = resolve)) };
    this.live.add(entry);
    const cancel = () => child.send({ type: 'cancel' });
    ctx.signal.addEventListener('abort', cancel, { once: true });

    return new Promise<TaskResult<N>>((resolve, reject) => {
      child.onMessage((message) => {
        if (message.type === 'progress') ctx.progress(message.phase, message.done, message.total, message.detail, message.overall);
        else {
          outcome = message.type === 'done' ? { ok: true, result: message.result } : { ok: false, error: ApiError.from(message.error) };
          child.send({ type: 'exit' });
        }
      });
      child.onExit((exit) => {
        ctx.signal.removeEventListener('abort', cancel);
        this.live.delete(entry);
        markExited();
        if (outcome?.ok) resolve(outcome.result as TaskResult<N>);
        else if (outcome) reject(outcome.error);
        else reject(new ApiError('engine_failed', `${title}: the engine process ${describeExit(exit)}; what it had stored is kept, and resuming continues from there`));
      });
      child.send({ type: 'start', task, input });
    });
  }

  /** Asks every engine to stop, waits up to the grace period, then kills what is left. */
  async close(): Promise<void> {
    this.closing = true;
    const entries = [...this.live];
    for (const { process } of entries) process.send({ type: 'cancel' });
    const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), this.options.stopGraceMs ?? 10_000).unref());
    await Promise.all(entries.map(async (e) => {
      if ((await Promise.race([e.exited.then(() => 'exited' as const), grace])) === 'late') {
        e.process.kill();
        await e.exited;
      }
    }));
  }
}
