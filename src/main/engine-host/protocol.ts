// The messages between the studio (main, `serve`, the CLI) and an engine process, the same over
// both transports (Node's IPC channel, Electron's parentPort). One process runs one task.
import type { ApiErrorShape } from '../../shared/errors';
import type { JobOverall } from '../../shared/jobs';

export type ToEngine =
  | { type: 'start'; task: string; input: unknown }
  /** Stop at the next check between units of work; the task then ends as cancelled. */
  | { type: 'cancel' }
  /** The outcome arrived: exit now (sent so no message is lost to an exit racing its delivery). */
  | { type: 'exit' };

export type FromEngine =
  | { type: 'progress'; phase: string; done: number; total: number; detail?: string; overall?: JobOverall }
  | { type: 'done'; result: unknown }
  | { type: 'failed'; error: ApiErrorShape };
