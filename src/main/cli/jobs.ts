// Following a job from the command line: wait for its end, print its progress as it goes.
import { isFinished, type JobSnapshot } from '../../shared/jobs';
import type { JobRegistry } from '../api/jobs';

/** Resolves with the job's final snapshot, passing every snapshot before it to `onChange`. */
export function waitForJob(jobs: JobRegistry, jobId: string, onChange: (job: JobSnapshot) => void): Promise<JobSnapshot> {
  return new Promise((resolve) => {
    const seen = (job: JobSnapshot) => {
      if (job.id !== jobId) return;
      onChange(job);
      if (isFinished(job)) {
        stop();
        resolve(job);
      }
    };
    const stop = jobs.onChange(seen);
    // The job does its work after start() returns, so nothing was missed; this is its current state.
    const now = jobs.get(jobId);
    if (now) seen(now);
  });
}

/** A line per phase, then at most one a second: enough to see it move without flooding a log. */
export function progressPrinter(): (job: JobSnapshot) => void {
  const line = progressLines();
  return (job) => {
    if (job.state === 'failed' || job.state === 'cancelled' || job.phase === 'starting') return;
    line(job.phase, job.done, job.total, job.etaSeconds === null ? '' : `, ETA ${Math.ceil(job.etaSeconds)} s`, job.state === 'done');
  };
}

/** Progress lines "phase: done/total<suffix>": each new phase, then at most one a second (or when `force`). */
export function progressLines(): (phase: string, done: number, total: number, suffix?: string, force?: boolean) => void {
  let printed = { phase: '', at: 0 };
  return (phase, done, total, suffix = '', force = false) => {
    const now = Date.now();
    if (phase === printed.phase && now - printed.at < 1000 && !force) return;
    process.stdout.write(`${phase}: ${done}/${total}${suffix}\n`);
    printed = { phase, at: now };
  };
}
