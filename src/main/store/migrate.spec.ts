import Database from 'better-sqlite3';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configure, openDatabase } from './db';
import { loadMigrations, migrate, schemaVersion } from './migrate';

const migrations = loadMigrations();
const latest = migrations.length;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'isr-store-'));
}

/** Data written by a studio at each schema version, in that version's own columns. */
const seeds: Record<number, (db: Database.Database) => void> = {
  1: (db) => {
    db.exec(`
      INSERT INTO datasets (id, name, source_path, created_at) VALUES (1, 'old', '/data/old.jsonl', '2025-01-01T00:00:00.000Z');
      INSERT INTO videos (id, path, duration_s, width, height, fps) VALUES (1, '/data/a.mp4', 2.5, 160, 120, 10);
      INSERT INTO prompts (dataset_id, video_id, row_id, line, question, answer) VALUES (1, 1, 'q1', 1, 'How many?', '3');
      INSERT INTO prompts (dataset_id, video_id, row_id, line, question, answer) VALUES (1, 1, '7', 2, 'Which way?', NULL);`);
  },
  2: (db) => {
    db.exec(`
      INSERT INTO datasets (id, name, source_path, status) VALUES (2, 'half', '/data/half.jsonl', 'importing');
      INSERT INTO import_issues (dataset_id, line, row_id, field, message) VALUES (2, 4, NULL, 'question', 'question is missing');`);
  },
  3: (db) => {
    db.exec(`
      INSERT INTO datasets (id, name, source_path) VALUES (3, 'train', '/data/train.jsonl');
      INSERT INTO videos (id, path, duration_s, width, height, fps) VALUES (3, '/data/c.mp4', 1, 64, 48, 8);
      INSERT INTO prompts (id, dataset_id, video_id, row_id, line, question) VALUES (30, 3, 3, 'c1', 1, 'What colour?');
      INSERT INTO models (id, path, family, fingerprint) VALUES (1, '/models/start', 'llava-onevision', 'f0');
      INSERT INTO runs (id, mode, dataset_id, start_model_id, rounds_planned, settings) VALUES (1, 'isr', 3, 1, 2, '{}');
      INSERT INTO rounds (id, run_id, round, policy_model_id, templates) VALUES (1, 1, 1, 1, '{}');
      INSERT INTO responses (id, round_id, prompt_id, sample, text, token_count, seed) VALUES (1, 1, 30, 0, 'red', 1, 5), (2, 1, 30, 1, 'blue', 1, 6);
      INSERT INTO contexts (id, round_id, video_id, text) VALUES (1, 1, 3, 'A red square.');
      INSERT INTO judgments (round_id, response_a_id, response_b_id, shown_first, context_id, p_first) VALUES (1, 1, 2, 'a', 1, 0.8);
      INSERT INTO pairs (id, round_id, prompt_id, response_a_id, response_b_id, p_a, judge_choice) VALUES (1, 1, 30, 1, 2, 0.7, 'a');
      INSERT INTO overrides (pair_id, choice) VALUES (1, 'b');`);
  },
  4: (db) => {
    db.exec(`
      UPDATE rounds SET review = 'awaiting', review_budget = 20 WHERE id = 1;
      INSERT INTO overrides (pair_id, choice, author) VALUES (1, 'both-bad', 'reviewer');
      INSERT INTO trained_pairs (round_id, pair_id, chosen_response_id, rejected_response_id) VALUES (1, 1, 2, 1);`);
  },
  5: (db) => {
    db.exec(`
      INSERT INTO datasets (id, name, source_path) VALUES (5, 'one line', '/data/dump.json');
      INSERT INTO prompts (dataset_id, video_id, row_id, line, line_index, question) VALUES (5, 3, 'a', 1, 0, 'First?'), (5, 3, 'b', 1, 1, 'Second?');`);
  },
  6: (db) => {
    db.exec(`
      INSERT INTO outside_work (round_id, step, source, detail, imported_at) VALUES (1, 'responses', '/jobs/r1/responses.jsonl', '{"responses":2}', '2026-03-01T10:00:00.000Z');
      INSERT INTO outside_work (round_id, step, source) VALUES (1, 'training', '/jobs/r1/output');`);
  },
};

/** What each seed must look like after migrating to the latest version. */
function checkSeed(db: Database.Database, version: number): void {
  if (version >= 1) {
    expect(db.prepare('SELECT id, name, source_path, created_at, status FROM datasets WHERE id = 1').get()).toEqual({
      id: 1,
      name: 'old',
      source_path: '/data/old.jsonl',
      created_at: '2025-01-01T00:00:00.000Z',
      // Datasets from before import tracking were finished imports.
      status: 'ready',
    });
    expect(db.prepare('SELECT path, duration_s, width, height, fps FROM videos WHERE id = 1').all()).toEqual([
      { path: '/data/a.mp4', duration_s: 2.5, width: 160, height: 120, fps: 10 },
    ]);
    expect(db.prepare('SELECT row_id, line, question, answer FROM prompts WHERE dataset_id = 1 ORDER BY line').all()).toEqual([
      { row_id: 'q1', line: 1, question: 'How many?', answer: '3' },
      { row_id: '7', line: 2, question: 'Which way?', answer: null },
    ]);
  }
  if (version >= 3) {
    expect(db.prepare('SELECT r.mode, r.status, o.choice FROM runs r, overrides o ORDER BY o.id').get()).toEqual({ mode: 'isr', status: 'running', choice: 'b' });
    expect(db.prepare('SELECT phase FROM rounds').pluck().get()).toBe('responses');
  }
  if (version >= 4) {
    // The overrides of version 3 kept their ids and order under the rebuilt table.
    expect(db.prepare('SELECT id, choice, author FROM overrides ORDER BY id').all()).toEqual([{ id: 1, choice: 'b', author: '' }, { id: 2, choice: 'both-bad', author: 'reviewer' }]);
    expect(db.prepare('SELECT review, review_budget FROM rounds').get()).toEqual({ review: 'awaiting', review_budget: 20 });
    expect(db.prepare('SELECT chosen_response_id FROM trained_pairs').pluck().get()).toBe(2);
    expect(() => db.prepare("INSERT INTO overrides (pair_id, choice) VALUES (1, 'maybe')").run()).toThrow(/CHECK constraint failed/);
  }
  if (version >= 5) {
    // The prompts of earlier versions kept their ids (responses and pairs point at them) and are each first on their line.
    expect(db.prepare('SELECT id, line, line_index FROM prompts WHERE dataset_id = 3').all()).toEqual([{ id: 30, line: 1, line_index: 0 }]);
    expect(db.prepare('SELECT row_id FROM prompts WHERE dataset_id = 5 ORDER BY line, line_index').pluck().all()).toEqual(['a', 'b']);
    expect(() => db.prepare("INSERT INTO prompts (dataset_id, video_id, row_id, line, line_index, question) VALUES (5, 3, 'c', 1, 1, '?')").run()).toThrow(/UNIQUE constraint failed/);
    expect(() => db.prepare("INSERT INTO import_issues (dataset_id, line, message) VALUES (2, 4, 'question is missing')").run()).toThrow(/UNIQUE constraint failed/);
  }
  if (version >= 6) {
    // A round's steps done outside the studio, once each, of the two kinds; gone with their round.
    expect(db.prepare('SELECT step, source, detail, imported_at FROM outside_work ORDER BY id').all()).toEqual([
      { step: 'responses', source: '/jobs/r1/responses.jsonl', detail: '{"responses":2}', imported_at: '2026-03-01T10:00:00.000Z' },
      { step: 'training', source: '/jobs/r1/output', detail: '{}', imported_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
    ]);
    expect(() => db.prepare("INSERT INTO outside_work (round_id, step, source) VALUES (1, 'training', '/again')").run()).toThrow(/UNIQUE constraint failed/);
    expect(() => db.prepare("INSERT INTO outside_work (round_id, step, source) VALUES (1, 'contexts', '/x')").run()).toThrow(/CHECK constraint failed/);
  }
  if (version >= 2) {
    expect(db.prepare('SELECT status FROM datasets WHERE id = 2').pluck().get()).toBe('importing');
    expect(db.prepare('SELECT line, field, message FROM import_issues').all()).toEqual([
      { line: 4, field: 'question', message: 'question is missing' },
    ]);
  }
}

describe('migrations', () => {
  it('are numbered from 1 without gaps, and at least two exist', () => {
    expect(migrations.map((m) => m.version)).toEqual(Array.from({ length: latest }, (_, i) => i + 1));
    expect(latest).toBeGreaterThanOrEqual(2);
  });

  it('has a seed for every version, so the test below covers each one', () => {
    for (let v = 1; v <= latest; v++) expect(seeds[v], `seed for version ${v}`).toBeTypeOf('function');
  });

  for (let from = 0; from < latest; from++) {
    it(`migrates a database from version ${from} to ${latest} keeping its data`, () => {
      const path = join(tempDir(), 'history.db');
      const db = new Database(path);
      configure(db);
      for (let v = 1; v <= from; v++) {
        migrate(db, migrations, v);
        seeds[v](db);
      }
      expect(schemaVersion(db)).toBe(from);
      db.close();

      const migrated = openDatabase(path);
      expect(schemaVersion(migrated)).toBe(latest);
      for (let v = from + 1; v <= latest; v++) seeds[v](migrated);
      checkSeed(migrated, latest);
      expect(migrated.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(migrated.pragma('foreign_key_check')).toEqual([]);
      migrated.close();
    });
  }

  it('rolls back a failing migration whole, leaving the previous version', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'm'));
    writeFileSync(join(dir, 'm', '001_one.sql'), 'CREATE TABLE one (a INTEGER);');
    writeFileSync(join(dir, 'm', '002_broken.sql'), 'CREATE TABLE two (a INTEGER); INSERT INTO missing VALUES (1);');
    const db = new Database(join(dir, 'x.db'));
    expect(() => migrate(db, loadMigrations(join(dir, 'm')))).toThrow(/missing/);
    expect(schemaVersion(db)).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'two'").get()).toBeUndefined();
    db.close();
  });

  it('refuses a migration that leaves rows pointing at missing rows, with foreign keys back on after', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'm'));
    writeFileSync(join(dir, 'm', '001_tables.sql'), 'CREATE TABLE parent (id INTEGER PRIMARY KEY); CREATE TABLE child (p INTEGER REFERENCES parent (id)); INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1);');
    writeFileSync(join(dir, 'm', '002_orphan.sql'), 'DELETE FROM parent;');
    const db = new Database(join(dir, 'x.db'));
    configure(db);
    expect(() => migrate(db, loadMigrations(join(dir, 'm')))).toThrow(/migration 2 \(orphan\) leaves 1 row pointing at missing rows, the first in child/);
    expect(schemaVersion(db)).toBe(1);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    db.close();
  });

  it('rejects gaps in numbering, naming the file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, '001_one.sql'), 'SELECT 1;');
    writeFileSync(join(dir, '003_three.sql'), 'SELECT 1;');
    expect(() => loadMigrations(dir)).toThrow(/003_three\.sql should be number 2/);
  });

  it('refuses a database newer than the studio', () => {
    const path = join(tempDir(), 'new.db');
    const db = new Database(path);
    db.pragma(`user_version = ${latest + 1}`);
    db.close();
    expect(() => openDatabase(path)).toThrow(new RegExp(`schema version ${latest + 1}, newer`));
  });
});

describe('openDatabase', () => {
  it('turns on WAL, foreign keys and a busy timeout', () => {
    const db = openDatabase(join(tempDir(), 'sub', 'dir', 'h.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    // Foreign keys are enforced: a prompt cannot point at a dataset that does not exist.
    expect(() =>
      db.prepare("INSERT INTO prompts (dataset_id, video_id, row_id, line, question) VALUES (99, 99, 'x', 1, 'q')").run(),
    ).toThrow(/FOREIGN KEY/);
    db.close();
  });
});
