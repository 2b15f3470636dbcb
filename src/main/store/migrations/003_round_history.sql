-- The round history of ISR-DPO runs (docs/schema.md): every intermediate result of a round is a
-- row committed as it is produced, so a killed round resumes without redoing or losing work.

-- A model folder the studio ran: a starting policy, or the merged output of a round.
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  family TEXT NOT NULL,
  -- Content hash of config.json and the weights: what feature caches are keyed by.
  fingerprint TEXT NOT NULL,
  -- The model this one was trained from (null for a starting policy).
  parent_id INTEGER REFERENCES models (id),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  mode TEXT NOT NULL CHECK (mode IN ('isr', 'no-retrospect', 'no-context', 'text-judge')),
  dataset_id INTEGER NOT NULL REFERENCES datasets (id),
  -- Held-out prompts for evaluation (null: no evaluation).
  eval_dataset_id INTEGER REFERENCES datasets (id),
  start_model_id INTEGER NOT NULL REFERENCES models (id),
  rounds_planned INTEGER NOT NULL CHECK (rounds_planned > 0),
  -- Every setting of the run as validated JSON (sampling, judge, DPO, LoRA, evaluation).
  settings TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped', 'done', 'failed')),
  error TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Round t of a run, with the prompt-template texts it used and where it has got to.
CREATE TABLE rounds (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  -- Round 0 is the starting policy, evaluated only: the baseline of every chart.
  round INTEGER NOT NULL CHECK (round >= 0),
  policy_model_id INTEGER NOT NULL REFERENCES models (id),
  output_model_id INTEGER REFERENCES models (id),
  phase TEXT NOT NULL DEFAULT 'responses'
    CHECK (phase IN ('responses', 'contexts', 'judging', 'pairs', 'training', 'evaluation', 'done')),
  templates TEXT NOT NULL,
  started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  finished_at TEXT,
  UNIQUE (run_id, round)
);

-- The K samples of the round's policy for each training prompt.
CREATE TABLE responses (
  id INTEGER PRIMARY KEY,
  round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
  prompt_id INTEGER NOT NULL REFERENCES prompts (id),
  sample INTEGER NOT NULL CHECK (sample >= 0),
  text TEXT NOT NULL,
  token_count INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  -- Summed log-prob of the response under the round's reference (its starting policy), once computed.
  ref_logp REAL,
  UNIQUE (round_id, prompt_id, sample)
);

-- The visual context c_t of a video in a round, and the c_{t-1} it refined (null: from the video alone).
CREATE TABLE contexts (
  id INTEGER PRIMARY KEY,
  round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
  video_id INTEGER NOT NULL REFERENCES videos (id),
  text TEXT NOT NULL,
  refined_id INTEGER REFERENCES contexts (id),
  UNIQUE (round_id, video_id)
);

-- One judgment of a response pair in one order. p_first is the judge's probability for the
-- response shown first, from the next-token probabilities of the two choice labels.
CREATE TABLE judgments (
  id INTEGER PRIMARY KEY,
  round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
  response_a_id INTEGER NOT NULL REFERENCES responses (id),
  response_b_id INTEGER NOT NULL REFERENCES responses (id),
  shown_first TEXT NOT NULL CHECK (shown_first IN ('a', 'b')),
  context_id INTEGER REFERENCES contexts (id),
  p_first REAL NOT NULL CHECK (p_first >= 0 AND p_first <= 1),
  -- Attention of the verdict position over the frames: float32 frames x rows x cols, and its shape.
  attention BLOB,
  attention_frames INTEGER,
  attention_rows INTEGER,
  attention_cols INTEGER,
  visual_share REAL,
  UNIQUE (response_a_id, response_b_id, shown_first)
);

-- The judge's decision on a pair from both orders: p_a averaged, verdict 'tie' inside the tie band.
CREATE TABLE pairs (
  id INTEGER PRIMARY KEY,
  round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
  prompt_id INTEGER NOT NULL REFERENCES prompts (id),
  response_a_id INTEGER NOT NULL REFERENCES responses (id),
  response_b_id INTEGER NOT NULL REFERENCES responses (id),
  p_a REAL NOT NULL CHECK (p_a >= 0 AND p_a <= 1),
  judge_choice TEXT NOT NULL CHECK (judge_choice IN ('a', 'b', 'tie')),
  UNIQUE (response_a_id, response_b_id)
);
CREATE INDEX pairs_round ON pairs (round_id);

-- A person's verdicts on a pair, append-only: the latest row is in force ('cleared' undoes).
CREATE TABLE overrides (
  id INTEGER PRIMARY KEY,
  pair_id INTEGER NOT NULL REFERENCES pairs (id) ON DELETE CASCADE,
  choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie', 'cleared')),
  author TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX overrides_pair ON overrides (pair_id, id);

-- DPO metrics of each optimizer step under TRL's names, as JSON.
CREATE TABLE train_steps (
  round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  epoch REAL NOT NULL,
  metrics TEXT NOT NULL,
  PRIMARY KEY (round_id, step)
);

-- The round's output policy answering each held-out prompt, and its score.
CREATE TABLE evaluations (
  id INTEGER PRIMARY KEY,
  round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
  prompt_id INTEGER NOT NULL REFERENCES prompts (id),
  answer TEXT NOT NULL,
  token_count INTEGER NOT NULL,
  word_count INTEGER NOT NULL,
  -- Normalised exact match (0/1) or a scorer's 1-5 grade; null when unscored.
  score REAL,
  UNIQUE (round_id, prompt_id)
);
