// Numbered schema migrations: files migrations/NNN_name.sql, applied in order, each in its own
// transaction together with the user_version that records it, so a crash leaves a whole version.
import type Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { count } from '../../shared/plural';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migrations shipped beside this module. */
export const defaultMigrationsDir = fileURLToPath(new URL('./migrations/', import.meta.url));

const fileName = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/** Reads NNN_name.sql files; numbering must run 1, 2, 3, ... without gaps or repeats. */
export function loadMigrations(dir: string = defaultMigrationsDir): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  return files.map((file, index) => {
    const match = fileName.exec(file);
    if (!match) throw new Error(`migration file ${join(dir, file)} is not named NNN_name.sql`);
    const version = Number(match[1]);
    if (version !== index + 1) {
      throw new Error(`migration ${join(dir, file)} should be number ${index + 1}: numbering must have no gaps`);
    }
    return { version, name: match[2], sql: readFileSync(join(dir, file), 'utf8') };
  });
}

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies every migration above the database's version, up to `target` (default: all). */
export function migrate(
  db: Database.Database,
  migrations: Migration[] = loadMigrations(),
  target: number = migrations.length,
): number {
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new Error(
      `database ${db.name} is at schema version ${current}, newer than this studio knows (${migrations.length}); use a newer ISR Studio`,
    );
  }
  // SQLite's way to rebuild a table others reference: foreign keys off (which only works outside a
  // transaction), the change, then a foreign_key_check before the commit.
  const enforced = db.pragma('foreign_keys', { simple: true }) === 1;
  db.pragma('foreign_keys = OFF');
  try {
    for (const m of migrations) {
      if (m.version <= current || m.version > target) continue;
      // IMMEDIATE takes the write lock first; the version is read again under it, as another
      // process opening the same new database may have applied this migration meanwhile.
      db.transaction(() => {
        if (schemaVersion(db) >= m.version) return;
        db.exec(m.sql);
        const broken = db.pragma('foreign_key_check') as { table: string; rowid: number; parent: string }[];
        if (broken.length > 0) {
          const first = broken[0];
          throw new Error(`migration ${m.version} (${m.name}) leaves ${count(broken.length, 'row')} pointing at missing rows, the first in ${first.table} (rowid ${first.rowid}) → ${first.parent}`);
        }
        db.pragma(`user_version = ${m.version}`);
      }).immediate();
    }
  } finally {
    if (enforced) db.pragma('foreign_keys = ON');
  }
  return schemaVersion(db);
}
