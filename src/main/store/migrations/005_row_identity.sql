-- A row is no longer known by its line alone (issue 23): a JSON array written on one line (what
-- Python's json.dump writes) puts every row on line 1. A prompt is (dataset, line, its place among
-- the rows starting on that line); an issue is stored once, so two imports of one file at once
-- write the same rows and issues, not twice.

-- prompts is referenced (responses, pairs, evaluations): the runner turns foreign keys off around a
-- migration and checks them before its commit, so the new table takes the old one's place and ids.
CREATE TABLE prompts_v5 (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  video_id INTEGER NOT NULL REFERENCES videos (id),
  row_id TEXT NOT NULL,
  -- Line in the source file where the row starts, and its place among the rows starting there.
  line INTEGER NOT NULL,
  line_index INTEGER NOT NULL DEFAULT 0,
  question TEXT NOT NULL,
  answer TEXT,
  UNIQUE (dataset_id, line, line_index)
);
INSERT INTO prompts_v5 (id, dataset_id, video_id, row_id, line, line_index, question, answer)
  SELECT id, dataset_id, video_id, row_id, line, 0, question, answer FROM prompts;
DROP TABLE prompts;
ALTER TABLE prompts_v5 RENAME TO prompts;
CREATE INDEX prompts_video ON prompts (video_id);

DELETE FROM import_issues WHERE id NOT IN (SELECT MIN(id) FROM import_issues GROUP BY dataset_id, line, message);
CREATE UNIQUE INDEX import_issues_once ON import_issues (dataset_id, line, message);
