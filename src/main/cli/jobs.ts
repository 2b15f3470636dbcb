// Following a job from the command line: its progress printed as it goes (JobRegistry.finished
// waits for its end).
import { phaseEta, type JobSnapshot } from '../../shared/jobs';

/** A line per phase, then at most one a second: enough to see it move without flooding a log. */
export function progressPrinter(): (job: JobSnapshot) => void {
  const line = progressLines();
  return (job) => {
    if (job.state === 'failed' || job.state === 'cancelled' || job.phase === 'starting') return;
    line(job.phase, job.done, job.total, etaText(job.etaSeconds), job.state === 'done');
  };
}

export const etaText = (seconds: number | null): string => (seconds === null ? '' : `, ETA ${Math.ceil(seconds)} s`);

/** Progress lines for work that reports phases itself (not a job): each with its phase's ETA. */
export function progressWithEta(): (phase: string, done: number, total: number, detail?: string) => void {
  const line = progressLines();
  const eta = phaseEta();
  return (phase, done, total, detail) => line(phase, done, total, `${detail ? ` ${detail}` : ''}${etaText(eta(phase, done, total))}`);
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
