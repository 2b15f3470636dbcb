-- Steps of a round done outside the studio and brought back (issue 27, docs/scale.md): its
-- responses sampled by another engine (`isr-studio export --format vllm-job`, then
-- `import-responses`), or its DPO training run by another trainer (`--format trl-job`, then
-- `import-adapter`). What was brought back lives where the studio's own work does (responses,
-- models, train_steps); this table records that it came from outside, from where, and what was
-- checked, so the history shows it. Once per round and step: a round takes one import of each.
CREATE TABLE outside_work (
  id INTEGER PRIMARY KEY,
  round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
  step TEXT NOT NULL CHECK (step IN ('responses', 'training')),
  -- The file or folder imported, as an absolute path on the machine that imported it.
  source TEXT NOT NULL,
  -- What the import found and checked, as JSON (counts, the adapter's base model and rank, ...).
  detail TEXT NOT NULL DEFAULT '{}',
  imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (round_id, step)
);
