// Long work runs as jobs: one registry, one snapshot shape, progress with an ETA, cancellation.
import { randomUUID } from 'node:crypto';
import { ApiError, toErrorShape } from '../../shared/errors';
import { isFinished, phaseEta, type JobKind, type JobOverall, type JobSnapshot } from '../../shared/jobs';

export interface JobContext {
  signal: AbortSignal;
  /** Report progress; the ETA is derived from the rate since the phase began (the overall one's
   *  from the rate since the first overall report). */
  progress(phase: string, done: number, total: number, detail?: string, overall?: JobOverall): void;
  /** Throws ApiError('cancelled') once the job was cancelled; call between units of work. */
  throwIfCancelled(): void;
}

type Listener = (job: JobSnapshot) => void;

export class JobRegistry {
  private readonly jobs = new Map<string, { snapshot: JobSnapshot; abort: AbortController }>();
  private readonly listeners = new Set<Listener>();
  private readonly running = new Set<Promise<void>>();

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): JobSnapshot[] {
    return [...this.jobs.values()].map((j) => ({ ...j.snapshot }));
  }

  get(id: string): JobSnapshot | undefined {
    const job = this.jobs.get(id);
    return job && { ...job.snapshot };
  }

  /** Resolves with the job's final snapshot, passing every snapshot before it to `onChange`. */
  finished(id: string, onChange: (job: JobSnapshot) => void = () => {}): Promise<JobSnapshot> {
    return new Promise((resolve) => {
      const seen = (job: JobSnapshot) => {
        if (job.id !== id) return;
        onChange(job);
        if (isFinished(job)) {
          stop();
          resolve(job);
        }
      };
      const stop = this.onChange(seen);
      // The job does its work after start() returns, so nothing was missed; this is its current state.
      const now = this.get(id);
      if (now) seen(now);
    });
  }

  cancel(id: string): boolean {
    const job = this.jobs.get(id);
    if (!job || job.snapshot.state !== 'running') return false;
    job.abort.abort();
    return true;
  }

  /** Cancels every running job and resolves once each has stopped writing (before a database closes). */
  async cancelAll(): Promise<void> {
    for (const job of this.jobs.values()) if (job.snapshot.state === 'running') job.abort.abort();
    await Promise.all(this.running);
  }

  /** Starts `work` now and returns the job id at once; the result arrives in the final snapshot. */
  start<T>(kind: JobKind, title: string, work: (ctx: JobContext) => Promise<T>, subject: { runId?: number } = {}): string {
    const id = randomUUID();
    const abort = new AbortController();
    const snapshot: JobSnapshot = {
      id,
      kind,
      ...subject,
      title,
      state: 'running',
      phase: 'starting',
      done: 0,
      total: 0,
      etaSeconds: null,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      result: null,
      error: null,
    };
    this.jobs.set(id, { snapshot, abort });
    const eta = phaseEta();
    let overallStart: { time: number; fraction: number } | null = null;

    const ctx: JobContext = {
      signal: abort.signal,
      progress: (phase, done, total, detail, overall) => {
        const now = Date.now();
        Object.assign(snapshot, { phase, done, total, detail, etaSeconds: eta(phase, done, total) });
        if (overall !== undefined) {
          overallStart ??= { time: now, fraction: overall.fraction };
          const overallRate = (overall.fraction - overallStart.fraction) / Math.max(1e-3, (now - overallStart.time) / 1000);
          snapshot.overall = { ...overall, etaSeconds: overallRate > 0 ? Math.max(0, (1 - overall.fraction) / overallRate) : null };
        }
        this.emit(snapshot);
      },
      throwIfCancelled: () => {
        if (abort.signal.aborted) throw new ApiError('cancelled', `${title}: cancelled`);
      },
    };

    this.emit(snapshot);
    // Deferred so the caller gets the id before the first event can finish the job.
    const settled = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => work(ctx))
      .then(
        (result) => this.finish(snapshot, { state: 'done', result }),
        (err: unknown) => {
          const error = toErrorShape(err);
          this.finish(snapshot, {
            state: error.code === 'cancelled' ? 'cancelled' : 'failed',
            error,
          });
        },
      )
      .finally(() => this.running.delete(settled));
    this.running.add(settled);
    return id;
  }

  private finish(snapshot: JobSnapshot, patch: Partial<JobSnapshot>): void {
    Object.assign(snapshot, patch, { finishedAt: new Date().toISOString(), etaSeconds: null });
    this.emit(snapshot);
  }

  private emit(snapshot: JobSnapshot): void {
    const copy = { ...snapshot };
    for (const listener of this.listeners) listener(copy);
  }
}
