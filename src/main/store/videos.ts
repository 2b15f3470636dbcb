// Videos: one row per file path, holding what probing found; shared across datasets.
import type { Db } from './db';

export interface VideoRecord {
  id: number;
  path: string;
  durationS: number;
  width: number;
  height: number;
  fps: number;
}

const columns = 'id, path, duration_s AS durationS, width, height, fps';

export function findVideoByPath(db: Db, path: string): VideoRecord | null {
  return (db.prepare(`SELECT ${columns} FROM videos WHERE path = ?`).get(path) as VideoRecord) ?? null;
}

export function getVideo(db: Db, id: number): VideoRecord | null {
  return (db.prepare(`SELECT ${columns} FROM videos WHERE id = ?`).get(id) as VideoRecord) ?? null;
}

/** Inserts the probed video, or returns the row another import already made for that path. */
export function upsertVideo(db: Db, v: Omit<VideoRecord, 'id'>): VideoRecord {
  return db
    .prepare(
      `INSERT INTO videos (path, duration_s, width, height, fps) VALUES (@path, @durationS, @width, @height, @fps)
       ON CONFLICT (path) DO UPDATE SET path = excluded.path
       RETURNING ${columns}`,
    )
    .get(v) as VideoRecord;
}
