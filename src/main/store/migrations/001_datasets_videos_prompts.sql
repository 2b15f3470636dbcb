-- Datasets as the user imported them: each row of a dataset file becomes a prompt on a video.
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  -- Absolute path of the file the rows came from; with the name, what makes an import resumable.
  source_path TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (name, source_path)
);

-- One row per video file, shared by every dataset that points at it; probed once.
CREATE TABLE videos (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  duration_s REAL NOT NULL,
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  fps REAL NOT NULL
);

CREATE TABLE prompts (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  video_id INTEGER NOT NULL REFERENCES videos (id),
  -- The row's own `id` field, as text (files use strings and numbers alike).
  row_id TEXT NOT NULL,
  -- Line in the source file where the row starts: the resume key and what errors cite.
  line INTEGER NOT NULL,
  question TEXT NOT NULL,
  answer TEXT,
  UNIQUE (dataset_id, line)
);
CREATE INDEX prompts_video ON prompts (video_id);
