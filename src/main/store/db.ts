// Opening the round-history database: the pragmas every connection needs, then migrations.
import Database from 'better-sqlite3';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { ApiError, fileProblem } from '../../shared/errors';
import { migrate, loadMigrations, type Migration } from './migrate';

export type Db = Database.Database;

/** Opens (creating if new) the SQLite file at `path` and migrates it to the latest schema. */
export function openDatabase(path: string, migrations: Migration[] = loadMigrations()): Db {
  let db: Db;
  try {
    // mkdir says EEXIST when a part of the path is a file.
    mkdirSync(dirname(path), { recursive: true });
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw Object.assign(new Error(), { code: 'EISDIR' });
    db = new Database(path);
  } catch (err) {
    const code = (err as { code?: string }).code === 'EEXIST' ? { code: 'ENOTDIR' } : err;
    throw new ApiError('bad_input', fileProblem(code, 'studio database', path));
  }
  try {
    configure(db);
    migrate(db, migrations);
    return db;
  } catch (err) {
    db.close();
    // SQLite's own words ("file is not a database") name no file.
    if (err instanceof Database.SqliteError && ['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_IOERR'].some((c) => err.code.startsWith(c))) {
      throw new ApiError('bad_input', `${path} cannot be used as a studio database: ${err.message}`);
    }
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
