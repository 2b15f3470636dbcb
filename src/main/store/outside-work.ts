// Steps of a round done outside the studio (migration 006): responses sampled by another engine,
// training run by another trainer, each recorded once with where it came from and what was
// checked. The work itself is stored where the studio's own goes (responses, models, train_steps).
import type { OutsideStep, OutsideWork } from '../../shared/types';
import type { Db } from './db';

/** Records that a round's step came from outside; a second record of the same step is refused by the caller first. */
export function recordOutsideWork(db: Db, roundId: number, work: { step: OutsideStep; source: string; detail: Record<string, unknown> }): void {
  db.prepare('INSERT INTO outside_work (round_id, step, source, detail) VALUES (?, ?, ?, ?)').run(roundId, work.step, work.source, JSON.stringify(work.detail));
}

/** The round's steps done outside, in the order of the round (responses, then training). */
export function outsideWorkOf(db: Db, roundId: number): (OutsideWork & { detail: Record<string, unknown> })[] {
  const rows = db
    .prepare(`SELECT step, source, detail, imported_at AS importedAt FROM outside_work WHERE round_id = ? ORDER BY CASE step WHEN 'responses' THEN 0 ELSE 1 END`)
    .all(roundId) as { step: OutsideStep; source: string; detail: string; importedAt: string }[];
  return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
}

/** Whether the round's `step` was brought back from outside. */
export const doneOutside = (db: Db, roundId: number, step: OutsideStep): boolean =>
  db.prepare('SELECT 1 FROM outside_work WHERE round_id = ? AND step = ?').get(roundId, step) !== undefined;
