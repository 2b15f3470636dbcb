// The fuzz suite's studio (issue 23): the real service over one database that every case imports
// into or starts runs against, with an engine that never computes (a run's record is what the cases
// check), and a second connection that reads what the studio wrote.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ApiError } from '../../src/shared/errors';
import type { ImportIssue, ImportResult, JobRef } from '../../src/shared/types';
import type { JobSnapshot } from '../../src/shared/jobs';
import { dispatch } from '../../src/main/api/dispatch';
import { openStudio } from '../../src/main/api/service';
import type { Studio } from '../../src/main/api/studio';
import type { EngineHost } from '../../src/main/engine-host/host';
import { integrityProblems, messageProblems, snapshot, snapshotChanges, within, type MessageRules, type Snapshot } from './oracle';
import { fuzzSeed } from './rng';

/** An engine host that computes nothing: a started run's job ends at once, its record untouched. */
const idleEngine = {
  run: () => Promise.reject(new ApiError('cancelled', 'the fuzz suite runs no engine')),
  close: async () => {},
} as unknown as EngineHost;

/** The seed, the case and what it is: enough to reproduce a failure from its message alone. */
export function where(name: string, description: string): string {
  const text = description.length > 600 ? `${description.slice(0, 600)}…` : description;
  return `[ISR_FUZZ_SEED=${fuzzSeed} ${name}] ${text}`;
}

export class FuzzStudio {
  readonly studio: Studio;
  readonly peek: Database.Database;
  /** What the database held after the last case: every case must keep all of it. */
  private kept: Snapshot;

  constructor(readonly dbPath: string) {
    this.studio = openStudio({ dbPath, transport: 'in-process', engine: idleEngine });
    this.peek = new Database(dbPath, { readonly: true });
    this.kept = snapshot(this.peek);
  }

  async call<T>(method: string, input: unknown): Promise<{ ok: true; value: T } | { ok: false; code: string; message: string }> {
    const result = await dispatch(this.studio.service, method, input);
    return result.ok ? { ok: true, value: result.value as T } : { ok: false, code: result.error.code, message: result.error.message };
  }

  /** Imports `path` through the service as the Datasets screen does; the job's end, within `boundMs`. */
  async importFile(path: string, label: string, boundMs = 20_000): Promise<JobSnapshot> {
    return within(boundMs, label, async () => {
      const started = await this.call<JobRef>('importDataset', { path });
      if (!started.ok) throw new Error(`${label}: importDataset refused to start: ${started.message}`);
      return this.studio.jobs.finished(started.value.jobId);
    });
  }

  async issues(datasetId: number): Promise<ImportIssue[]> {
    const r = await this.call<ImportIssue[]>('getImportIssues', { datasetId });
    if (!r.ok) throw new Error(r.message);
    return r.value;
  }

  /** Rows stored for a dataset, with their video's path. */
  storedRows(datasetId: number): { line: number; lineIndex: number; rowId: string; question: string; answer: string | null; video: string }[] {
    return this.peek
      .prepare('SELECT p.line, p.line_index AS lineIndex, p.row_id AS rowId, p.question, p.answer, v.path AS video FROM prompts p JOIN videos v ON v.id = p.video_id WHERE p.dataset_id = ? ORDER BY p.line, p.line_index')
      .all(datasetId) as { line: number; lineIndex: number; rowId: string; question: string; answer: string | null; video: string }[];
  }

  /**
   * Every row the database held before the case is there, unchanged; the file passes SQLite's
   * checks; what the case added is only in `mayAdd`'s tables (nothing, by default). Returns what was
   * added, and makes it part of what the next case must keep.
   */
  expectKept(label: string, mayAdd: readonly string[] = []): Map<string, number[]> {
    const now = snapshot(this.peek);
    const { lost, added } = snapshotChanges(this.kept, now);
    expect(lost, `${label}: the database lost or changed rows it held`).toEqual([]);
    expect(integrityProblems(this.peek), `${label}: the database fails SQLite's checks`).toEqual([]);
    const unexpected = [...added.keys()].filter((t) => !mayAdd.includes(t));
    expect(unexpected.map((t) => `${t}: ${added.get(t)!.length} row(s)`), `${label}: the case added rows where it must not`).toEqual([]);
    this.kept = now;
    return added;
  }

  /** Takes what the database holds now as what the next case must keep. */
  resync(): void {
    this.kept = snapshot(this.peek);
  }

  async close(): Promise<void> {
    this.peek.close();
    await this.studio.close();
  }
}

/** Asserts an error message keeps the rules, naming the case in the failure. */
export function expectMessage(message: unknown, rules: MessageRules, label: string): void {
  const problems = messageProblems(message, rules);
  expect(problems, `${label}\n  message: ${String(message).slice(0, 800)}\n  problems: ${problems.join('; ')}`).toEqual([]);
}

export type { ImportResult };
export const datasetDir = (root: string) => join(root, 'datasets');
