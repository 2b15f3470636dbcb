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
  let printed = { phase: '', at: 0 };
  return (job) => {
    const now = Date.now();
    const due = job.phase !== printed.phase || now - printed.at >= 1000 || job.state === 'done';
    if (job.state === 'failed' || job.state === 'cancelled' || job.phase === 'starting' || !due) return;
    const eta = job.etaSeconds === null ? '' : `, ETA ${Math.ceil(job.etaSeconds)} s`;
    process.stdout.write(`${job.phase}: ${job.done}/${job.total}${eta}\n`);
    printed = { phase: job.phase, at: now };
  };
}
