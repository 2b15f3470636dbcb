// The renderer's one view of long work: every job main reports, kept current by job events. Screens
// and the shell's task list read progress from here instead of listening for events themselves.
import { SvelteMap } from 'svelte/reactivity';
import { isFinished, type JobSnapshot } from '../../../shared/jobs';
import type { Client } from './client';

export interface JobStore {
  /** Newest first. */
  readonly all: JobSnapshot[];
  get(id: string): JobSnapshot | undefined;
  /** Resolves with the job's final snapshot (done, failed or cancelled). */
  finished(id: string): Promise<JobSnapshot>;
  stop(): void;
}

export function createJobStore(client: Pick<Client, 'api' | 'onEvent'>, onError: (err: unknown) => void = console.error): JobStore {
  const jobs = new SvelteMap<string, JobSnapshot>();
  const waiting = new Map<string, Array<(job: JobSnapshot) => void>>();

  const put = (job: JobSnapshot) => {
    // A finished job never changes again; a late, older snapshot must not bring it back to running.
    const known = jobs.get(job.id);
    if (known && isFinished(known)) return;
    jobs.set(job.id, job);
    if (!isFinished(job)) return;
    for (const resolve of waiting.get(job.id) ?? []) resolve(job);
    waiting.delete(job.id);
  };

  const stop = client.onEvent((event) => {
    if (event.type === 'job') put(event.job);
  });
  // Jobs started before this page opened. Events keep coming and win, so this answer only fills gaps.
  client.api.listJobs({}).then((list) => list.filter((job) => !jobs.has(job.id)).forEach(put), onError);

  return {
    get all() {
      return [...jobs.values()].sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    },
    get: (id) => jobs.get(id),
    finished(id) {
      const known = jobs.get(id);
      if (known && isFinished(known)) return Promise.resolve(known);
      return new Promise((resolve) => waiting.set(id, [...(waiting.get(id) ?? []), resolve]));
    },
    stop,
  };
}

/** The run a job computes, or null for another kind of job. */
export function runIdOf(job: JobSnapshot): number | null {
  return job.kind === 'run' ? (job.runId ?? null) : null;
}
