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

/** Seconds left in the current phase at its rate since the phase began (null until it has one): the
 *  estimate every job and the CLI's own progress lines give. A new phase name starts a new rate. */
export function phaseEta(now: () => number = Date.now): (phase: string, done: number, total: number) => number | null {
  let start = { phase: '', time: now(), done: 0 };
  return (phase, done, total) => {
    const t = now();
    if (phase !== start.phase) start = { phase, time: t, done };
    const rate = (done - start.done) / Math.max(1e-3, (t - start.time) / 1000);
    return rate > 0 && done > start.done ? Math.max(0, (total - done) / rate) : null;
  };
}
