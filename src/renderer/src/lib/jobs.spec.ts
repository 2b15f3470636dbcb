import { describe, expect, it } from 'vitest';
import type { StudioEvent } from '../../../shared/contract';
import type { JobSnapshot } from '../../../shared/jobs';
import type { Client } from './client';
import { createJobStore, runIdOf } from './jobs';

const job = (id: string, patch: Partial<JobSnapshot> = {}): JobSnapshot => ({
  id, kind: 'import', title: `Import ${id}`, state: 'running', phase: 'probing videos', done: 0, total: 4,
  etaSeconds: null, startedAt: `2026-01-01T00:00:0${'abc'.indexOf(id)}Z`, finishedAt: null, result: null, error: null, ...patch,
});

/** A client whose listJobs answers when the test says so, and whose events the test sends. */
function fakeClient() {
  const listeners = new Set<(e: StudioEvent) => void>();
  let answer!: (jobs: JobSnapshot[]) => void;
  const client = {
    api: { listJobs: () => new Promise<JobSnapshot[]>((resolve) => (answer = resolve)) },
    onEvent: (l: (e: StudioEvent) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  } as unknown as Client;
  const emit = (j: JobSnapshot) => listeners.forEach((l) => l({ type: 'job', job: j }));
  return { client, emit, answer: (jobs: JobSnapshot[]) => answer(jobs), listeners };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('job store', () => {
  it('keeps every job current from events, newest first, and fills in jobs that started earlier', async () => {
    const { client, emit, answer } = fakeClient();
    const jobs = createJobStore(client);
    emit(job('b', { done: 1 }));
    emit(job('b', { done: 3 }));
    // The answer was computed before the last event: it must not roll job b back.
    answer([job('a', { state: 'done' }), job('b', { done: 1 })]);
    await settle();
    expect(jobs.get('b')?.done).toBe(3);
    expect(jobs.all.map((j) => [j.id, j.state])).toEqual([['b', 'running'], ['a', 'done']]);
  });

  it('never brings a finished job back to running', () => {
    const { client, emit } = fakeClient();
    const jobs = createJobStore(client);
    emit(job('a', { state: 'done', done: 4 }));
    emit(job('a', { done: 2 }));
    expect(jobs.get('a')).toMatchObject({ state: 'done', done: 4 });
  });

  it('resolves finished() with the final snapshot, whether the job ends later or already has', async () => {
    const { client, emit } = fakeClient();
    const jobs = createJobStore(client);
    const later = jobs.finished('a');
    emit(job('a', { done: 2 }));
    emit(job('a', { state: 'failed', error: { code: 'bad_input', message: 'no file' } }));
    expect(await later).toMatchObject({ id: 'a', state: 'failed', error: { message: 'no file' } });
    expect(await jobs.finished('a')).toMatchObject({ id: 'a', state: 'failed' });
  });

  it('stops listening when stopped', () => {
    const { client, listeners } = fakeClient();
    const jobs = createJobStore(client);
    expect(listeners.size).toBe(1);
    jobs.stop();
    expect(listeners.size).toBe(0);
  });
});

describe('runIdOf', () => {
  it("reads a run job's run from its snapshot, and none from another kind of job", () => {
    expect(runIdOf(job('a', { kind: 'run', runId: 12, title: 'ISR-DPO run 12' }))).toBe(12);
    expect(runIdOf(job('b', { kind: 'import', title: 'Import run 3' }))).toBeNull();
  });
});
