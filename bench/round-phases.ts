// One round of a run, timed phase by phase as the round reports its progress: each phase's seconds,
// the seconds of each of its items (a prompt, a video, a pair, an update), and its peak resident set,
// measured from the phase's start (Linux: clear_refs resets VmHWM). Shared by the checkpoint and
// round benchmarks, which run it in a process of their own.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSettingsInput } from '../src/shared/run-settings';
import { createRunRecord, runRounds } from '../src/main/isr/run';
import { openDatabase } from '../src/main/store/db';
import { resolveFfmpeg } from '../src/main/video/ffmpeg';

export interface PhaseFigures {
  seconds: number;
  /** Seconds of each item of the phase after its first (the first pays for loading and building). */
  itemSeconds: number[];
  peakMiB: number;
}

export function peakMiB(): number {
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
}

/** Starts a new peak: the resident set now. */
export function resetPeak(): void {
  writeFileSync('/proc/self/clear_refs', '5');
}

/** Runs one round (and round 0's evaluation, with an evaluation set) on the database in `dir`,
 *  whose first dataset is the round's prompts and second, if any, its held-out questions. */
export async function timeRound(dir: string, model: string, cacheDir: string, settings: RunSettingsInput = {}): Promise<Record<string, PhaseFigures>> {
  const db = openDatabase(join(dir, 'studio.db'));
  const [train, held] = (db.prepare('SELECT id FROM datasets ORDER BY id').all() as { id: number }[]).map((d) => d.id);
  const runId = await createRunRecord(db, { model, mode: 'isr', datasetId: train, evalDatasetId: held ?? null, rounds: 1, settings });
  const phases: Record<string, PhaseFigures> = {};
  let current: { key: string; since: number; itemSince: number; done: number; items: number[] } | null = null;
  const close = () => {
    if (current === null) return;
    const now = performance.now();
    current.items.push((now - current.itemSince) / 1000);
    phases[current.key] = { seconds: (now - current.since) / 1000, itemSeconds: current.items.slice(1), peakMiB: peakMiB() };
  };
  const ffmpeg = (await resolveFfmpeg()).path;
  resetPeak();
  await runRounds(runId, {
    db, ffmpeg, cacheDir, runsDir: join(dir, 'runs'),
    onProgress: (p) => {
      const key = `round ${p.round}: ${p.phase}`;
      const now = performance.now();
      if (current?.key === key) {
        // A phase may report an item more than once (training's figures): an item ends when `done` moves.
        if (p.done !== current.done) {
          current.items.push((now - current.itemSince) / 1000);
          [current.itemSince, current.done] = [now, p.done];
        }
        return;
      }
      close();
      resetPeak();
      current = { key, since: now, itemSince: now, done: p.done, items: [] };
    },
  });
  close();
  db.close();
  return phases;
}
