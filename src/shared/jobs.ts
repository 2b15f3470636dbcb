// One mechanism for long work: every job reports the same snapshot shape, whatever it does.
import type { ApiErrorShape } from './errors';

export type JobKind = 'import' | 'run';
export type JobState = 'running' | 'done' | 'failed' | 'cancelled';

export interface JobSnapshot {
  id: string;
  kind: JobKind;
  title: string;
  state: JobState;
  /** What the job is doing now, e.g. "probing videos". */
  phase: string;
  done: number;
  total: number;
  /** The latest figures of the phase, e.g. a training step's loss and reward accuracy. */
  detail?: string;
  /** Seconds left, estimated from the rate so far; null until there is a rate. */
  etaSeconds: number | null;
  startedAt: string;
  finishedAt: string | null;
  result: unknown;
  error: ApiErrorShape | null;
}

export function isFinished(job: JobSnapshot): boolean {
  return job.state !== 'running';
}
