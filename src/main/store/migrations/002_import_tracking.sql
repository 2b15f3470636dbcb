-- Imports become resumable and report what they could not take.
-- Datasets made before this migration were complete imports, hence the default.
ALTER TABLE datasets ADD COLUMN status TEXT NOT NULL DEFAULT 'ready'
  CHECK (status IN ('importing', 'ready'));

-- Rows the last import of a dataset rejected, by line; replaced on each import run.
CREATE TABLE import_issues (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  line INTEGER NOT NULL,
  row_id TEXT,
  field TEXT,
  message TEXT NOT NULL
);
CREATE INDEX import_issues_dataset ON import_issues (dataset_id, line);
