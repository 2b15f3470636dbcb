// Datasets: created by an import, keyed by (name, source path) so the same import can resume.
import type { DatasetSummary } from '../../shared/types';
import type { Db } from './db';

interface DatasetRecord {
  id: number;
  name: string;
  source_path: string;
  status: 'importing' | 'ready';
  created_at: string;
}

/** Finds or creates the dataset for (name, sourcePath), marks it importing and clears the
 *  issues of any earlier run (this run re-reads every row and reports afresh). */
export function beginImport(db: Db, name: string, sourcePath: string): number {
  return db.transaction(() => {
    // Found or made in one statement: two imports of one file at once get the same dataset.
    db.prepare("INSERT INTO datasets (name, source_path, status) VALUES (?, ?, 'importing') ON CONFLICT (name, source_path) DO NOTHING").run(name, sourcePath);
    const id = db.prepare('SELECT id FROM datasets WHERE name = ? AND source_path = ?').pluck().get(name, sourcePath) as number;
    db.prepare("UPDATE datasets SET status = 'importing' WHERE id = ?").run(id);
    db.prepare('DELETE FROM import_issues WHERE dataset_id = ?').run(id);
    return id;
  })();
}

export function markReady(db: Db, id: number): void {
  db.prepare("UPDATE datasets SET status = 'ready' WHERE id = ?").run(id);
}

const summarySql = `
  SELECT d.id, d.name, d.source_path, d.status, d.created_at,
    (SELECT COUNT(*) FROM prompts p WHERE p.dataset_id = d.id) AS row_count,
    (SELECT COUNT(*) FROM import_issues i WHERE i.dataset_id = d.id) AS error_count
  FROM datasets d`;

type SummaryRecord = DatasetRecord & { row_count: number; error_count: number };

function toSummary(r: SummaryRecord): DatasetSummary {
  return {
    id: r.id,
    name: r.name,
    sourcePath: r.source_path,
    status: r.status,
    rowCount: r.row_count,
    errorCount: r.error_count,
    createdAt: r.created_at,
  };
}

export function listDatasets(db: Db): DatasetSummary[] {
  return (db.prepare(`${summarySql} ORDER BY d.id`).all() as SummaryRecord[]).map(toSummary);
}

export function getDataset(db: Db, id: number): DatasetSummary | null {
  const r = db.prepare(`${summarySql} WHERE d.id = ?`).get(id) as SummaryRecord | undefined;
  return r ? toSummary(r) : null;
}

/** Renames a dataset; the new name must not name another import of the same file. */
export function renameDataset(db: Db, id: number, name: string): void {
  db.prepare('UPDATE datasets SET name = ? WHERE id = ?').run(name, id);
}

/** The runs that train on or evaluate with a dataset. */
export function runsUsing(db: Db, id: number): number[] {
  return db.prepare('SELECT id FROM runs WHERE dataset_id = ? OR eval_dataset_id = ? ORDER BY id').pluck().all(id, id) as number[];
}

/** Deletes a dataset with its rows and import issues (its videos stay: other datasets may share them). */
export function deleteDataset(db: Db, id: number): void {
  db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
}
