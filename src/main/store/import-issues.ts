// Import issues: the rows an import rejected, by line and field, for the user to fix.
import type { ImportIssue } from '../../shared/types';
import type { Db } from './db';

export function insertIssues(db: Db, datasetId: number, issues: ImportIssue[]): void {
  const insert = db.prepare(
    // Once each: two imports of one file at the same time report the same issues.
    'INSERT INTO import_issues (dataset_id, line, row_id, field, message) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  db.transaction(() => {
    for (const i of issues) insert.run(datasetId, i.line, i.rowId, i.field, i.message);
  })();
}

export function listIssues(db: Db, datasetId: number): ImportIssue[] {
  return db
    .prepare(
      'SELECT line, row_id AS rowId, field, message FROM import_issues WHERE dataset_id = ? ORDER BY line, id',
    )
    .all(datasetId) as ImportIssue[];
}
