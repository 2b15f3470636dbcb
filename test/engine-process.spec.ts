// The engine in its own process, tried as a user meets it: `isr-studio serve` keeps answering while
// its engine computes (even while the engine is frozen mid-round), a SIGKILL of the engine fails the
// job with an error that says so and leaves the studio serving, resume ends with exactly the data of
// an uninterrupted run, and stopping `serve` (SIGTERM, or SIGKILL) leaves no engine process behind.
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobSnapshot } from '../src/shared/jobs';
import type { ImportResult, RunSummary } from '../src/shared/types';
import { runCli, startCli, type CliResult } from './cli';
import { runContents } from './run-contents';

let dir: string;
let model: string;
const settings = { samples: 2, maxNewTokens: 8, contextTokens: 12, frames: 2, tieBand: [0.5, 0.5], train: { epochs: 1, batchSize: 2, lr: 0.01, loraR: 4, loraAlpha: 8 }, evaluation: { maxNewTokens: 6 } };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-engine-'));
  model = join(dir, 'model');
  expect((await runCli(['demo-data', '--out', join(dir, 'demo'), '--videos', '4', '--seed', '2'])).code).toBe(0);
  expect((await runCli(['fixture', '--arch', 'llava-onevision', '--out', model, '--seed', '4'])).code).toBe(0);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(settings));
}, 120_000);

interface Served {
  call<T>(method: string, input?: unknown): Promise<T>;
  pid: number;
  done: Promise<CliResult>;
  kill(signal: NodeJS.Signals): void;
}

async function serve(db: string): Promise<Served> {
  const { child, done } = startCli(['serve', '--db', db, '--port', '0']);
  const url = await new Promise<URL>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const found = /serving at (\S+)/.exec(out);
      if (found) resolve(new URL(found[1]));
    });
    void done.then((r) => reject(new Error(`serve exited with ${r.code}: ${r.stdout}${r.stderr}`)));
  });
  const token = url.searchParams.get('token')!;
  return {
    pid: child.pid!,
    done,
    kill: (signal) => child.kill(signal),
    async call<T>(method: string, input: unknown = {}) {
      const response = await fetch(`${url.origin}/api/${method}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
        body: JSON.stringify(input),
      });
      const body = (await response.json()) as { ok: boolean; value?: T; error?: { message: string } };
      if (!body.ok) throw new Error(`${method}: ${body.error!.message}`);
      return body.value as T;
    },
  };
}

/** Polls the job list (every 20 ms) until `until` holds for job `jobId`. */
async function waitForJob(s: Served, jobId: string, until: (job: JobSnapshot) => boolean): Promise<JobSnapshot> {
  for (;;) {
    const job = (await s.call<JobSnapshot[]>('listJobs')).find((j) => j.id === jobId)!;
    if (until(job)) return job;
    await sleep(20);
  }
}

async function importAll(s: Served): Promise<{ datasetId: number; evalDatasetId: number }> {
  const ids: number[] = [];
  for (const file of ['train.jsonl', 'test.jsonl']) {
    const { jobId } = await s.call<{ jobId: string }>('importDataset', { path: join(dir, 'demo', file) });
    ids.push(((await waitForJob(s, jobId, (j) => j.state !== 'running')).result as ImportResult).datasetId);
  }
  return { datasetId: ids[0], evalDatasetId: ids[1] };
}

async function startRun(s: Served) {
  return s.call<{ jobId: string; runId: number }>('startRun', { model, ...(await importAll(s)), rounds: 2, mode: 'isr', settings });
}

/** The engine process computing run `runId` (other than `previous`): it records its pid when it takes the run. */
async function enginePid(db: string, runId: number, previous?: number): Promise<number> {
  const file = `${db}.runs/run-${runId}.engine-pid`;
  const pid = () => (existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0);
  while (pid() === 0 || pid() === previous) await sleep(20);
  return pid();
}

/** Running (a zombie left unreaped by a container's init counts as gone). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const status = `/proc/${pid}/status`;
  return !(existsSync(status) && /^State:\s+Z/m.test(readFileSync(status, 'utf8')));
};

const runStatus = (db: string) => {
  const stored = new Database(db, { readonly: true });
  try {
    return stored.prepare('SELECT status, error FROM runs').get() as { status: string; error: string | null };
  } finally {
    stored.close();
  }
};

/** `serve` on `db` with a run whose engine has begun round 1. */
async function serveWithEngine(db: string): Promise<{ s: Served; runId: number; engine: number }> {
  const s = await serve(db);
  const { jobId, runId } = await startRun(s);
  await waitForJob(s, jobId, (j) => j.phase.startsWith('round 1: '));
  return { s, runId, engine: await enginePid(db, runId) };
}

describe('the engine process under isr-studio serve', () => {
  it('serves while the engine is frozen mid-round; a SIGKILL fails the job, saying so; resume ends with the uninterrupted data', async () => {
    const whole = join(dir, 'whole.db');
    const uninterrupted = await runCli(['run', '--db', whole, '--model', model, '--data', join(dir, 'demo/train.jsonl'), '--eval-data', join(dir, 'demo/test.jsonl'), '--rounds', '2', '--config', join(dir, 'config.json')]);
    expect(uninterrupted.stderr).toBe('');

    const db = join(dir, 'killed.db');
    const s = await serve(db);
    try {
      const { jobId, runId } = await startRun(s);
      await waitForJob(s, jobId, (j) => j.phase.startsWith('round 1: '));
      const engine = await enginePid(db, runId);
      expect(engine).not.toBe(s.pid);

      // Frozen, the engine cannot compute or answer anything: the studio still does.
      process.kill(engine, 'SIGSTOP');
      const frozen = (await s.call<JobSnapshot[]>('listJobs')).find((j) => j.id === jobId)!;
      expect(frozen.state).toBe('running');
      expect((await s.call<RunSummary[]>('listRuns'))[0]).toMatchObject({ id: runId, status: 'running' });
      expect(alive(engine)).toBe(true);

      process.kill(engine, 'SIGKILL');
      const failed = await waitForJob(s, jobId, (j) => j.state !== 'running');
      expect(failed.state).toBe('failed');
      expect(failed.error).toMatchObject({ code: 'engine_failed' });
      expect(failed.error!.message).toContain('SIGKILL');
      const [run] = await s.call<RunSummary[]>('listRuns');
      expect(run).toMatchObject({ id: runId, status: 'failed' });
      expect(run.error).toContain('SIGKILL');

      // The next job starts a fresh engine, and resuming completes the run from what was stored.
      const resumed = await s.call<{ jobId: string }>('resumeRun', { runId });
      await enginePid(db, runId, engine);
      expect((await waitForJob(s, resumed.jobId, (j) => j.state !== 'running')).state).toBe('done');
    } finally {
      s.kill('SIGTERM');
      expect((await s.done).code).toBe(0);
    }
    const { rounds: _a, ...items } = runContents(db);
    const { rounds: _b, ...expected } = runContents(whole);
    expect(items).toEqual(expected);
  }, 300_000);

  it('SIGTERM to serve mid-run stops its engine cleanly: serve exits 0, the run is stopped, no engine is left', async () => {
    const db = join(dir, 'sigterm.db');
    const { s, engine } = await serveWithEngine(db);
    s.kill('SIGTERM');
    expect((await s.done).code).toBe(0);
    expect(alive(engine)).toBe(false);
    expect(runStatus(db)).toEqual({ status: 'stopped', error: null });
  }, 120_000);

  it('an engine whose serve was SIGKILLed ends by itself, and the next serve resumes the run', async () => {
    const db = join(dir, 'orphan.db');
    const { s, runId, engine } = await serveWithEngine(db);
    s.kill('SIGKILL');
    await s.done;
    while (alive(engine)) await sleep(50);

    const again = await serve(db);
    try {
      const resumed = await again.call<{ jobId: string }>('resumeRun', { runId });
      expect((await waitForJob(again, resumed.jobId, (j) => j.state !== 'running')).state).toBe('done');
    } finally {
      again.kill('SIGTERM');
      expect((await again.done).code).toBe(0);
    }
    expect(runStatus(db).status).toBe('done');
  }, 240_000);
});
