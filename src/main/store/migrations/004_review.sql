-- People in the loop (docs/method.md, People's review).

-- A round of a run with review: before-training stops after its pairs: 'awaiting' until a person
-- releases it for training ('released'); null for a round that never stopped. The budget is how
-- many of the round's pairs people mean to review.
ALTER TABLE rounds ADD COLUMN review TEXT CHECK (review IN ('awaiting', 'released'));
ALTER TABLE rounds ADD COLUMN review_budget INTEGER CHECK (review_budget > 0);

-- People's verdicts gain "both bad" (the pair is dropped from training). Nothing references
-- overrides, so it is rebuilt with the wider check and its rows copied as they were.
CREATE TABLE overrides_v4 (
  id INTEGER PRIMARY KEY,
  pair_id INTEGER NOT NULL REFERENCES pairs (id) ON DELETE CASCADE,
  choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie', 'both-bad', 'cleared')),
  author TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO overrides_v4 (id, pair_id, choice, author, created_at) SELECT id, pair_id, choice, author, created_at FROM overrides;
DROP TABLE overrides;
ALTER TABLE overrides_v4 RENAME TO overrides;
CREATE INDEX overrides_pair ON overrides (pair_id, id);

-- What a round trained on: each pair with the response it chose and the one it rejected, written
-- once when training starts (people's verdicts in force then), so a resumed round trains on the
-- same examples and anyone can check which verdicts a round's training used.
CREATE TABLE trained_pairs (
  round_id INTEGER NOT NULL REFERENCES rounds (id) ON DELETE CASCADE,
  pair_id INTEGER NOT NULL REFERENCES pairs (id),
  chosen_response_id INTEGER NOT NULL REFERENCES responses (id),
  rejected_response_id INTEGER NOT NULL REFERENCES responses (id),
  PRIMARY KEY (round_id, pair_id)
);
