// One mechanism for long work: every job reports the same snapshot shape, whatever it does.
import type { ApiErrorShape } from './errors';

export type JobKind = 'import' | 'run';
export type JobState = 'running' | 'done' | 'failed' | 'cancelled';

export interface JobSnapshot {
  id: string;
  kind: JobKind;
  /** The run a 'run' job computes. */
  runId?: number;
  title: string;
  state: JobState;
  /** What the job is doing now, e.g. "probing videos". */
  phase: string;
  done: number;
  total: number;
  /** The latest figures of the phase, e.g. a training step's loss and reward accuracy. */
  detail?: string;
  /** Seconds left in the phase, estimated from its rate so far; null until there is a rate. */
  etaSeconds: number | null;
  /** The whole job, where it has parts (a run: its rounds): where it is and the share done, with the
   *  seconds left at the rate since the job began reporting it. */
  overall?: JobOverall & { etaSeconds: number | null };
  startedAt: string;
  finishedAt: string | null;
  result: unknown;
  error: ApiErrorShape | null;
}

/** Where a job with parts is, e.g. "round 2 of 3", and the share of all its work done. */
export interface JobOverall {
  label: string;
  fraction: number;
}

export function isFinished(job: JobSnapshot): boolean {
  return job.state !== 'running';
}
