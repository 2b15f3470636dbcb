// Opening the round-history database: the pragmas every connection needs, then migrations.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrate, loadMigrations, type Migration } from './migrate';

export type Db = Database.Database;

/** Opens (creating if new) the SQLite file at `path` and migrates it to the latest schema. */
export function openDatabase(path: string, migrations: Migration[] = loadMigrations()): Db {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    configure(db);
    migrate(db, migrations);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** WAL so readers never block the writer; foreign keys, which SQLite leaves off by default;
 *  a busy timeout so a second connection (CLI beside the app) waits instead of failing. */
export function configure(db: Db): void {
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  db.pragma('synchronous = NORMAL');
}
