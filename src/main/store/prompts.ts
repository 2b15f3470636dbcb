// Prompts: the rows of a dataset (a question on a video), stored in batches.
import type { Db } from './db';
import type { VideoRecord } from './videos';

export interface NewPrompt {
  datasetId: number;
  videoId: number;
  rowId: string;
  line: number;
  question: string;
  answer: string | null;
}

export interface PromptWithVideo {
  id: number;
  rowId: string;
  line: number;
  question: string;
  answer: string | null;
  video: VideoRecord;
}

/** Lines of the source file already stored for the dataset: what a resumed import skips. */
export function storedLines(db: Db, datasetId: number): Set<number> {
  const rows = db.prepare('SELECT line FROM prompts WHERE dataset_id = ?').pluck().all(datasetId);
  return new Set(rows as number[]);
}

export function insertPrompts(db: Db, prompts: NewPrompt[]): void {
  const insert = db.prepare(
    `INSERT INTO prompts (dataset_id, video_id, row_id, line, question, answer)
     VALUES (@datasetId, @videoId, @rowId, @line, @question, @answer)`,
  );
  db.transaction(() => {
    for (const p of prompts) insert.run(p);
  })();
}

/** A prompt's question and its video's path, as a preference export names them. */
export function questionAndVideo(db: Db, promptId: number): { question: string; path: string } {
  return db.prepare('SELECT p.question, v.path FROM prompts p JOIN videos v ON v.id = p.video_id WHERE p.id = ?').get(promptId) as { question: string; path: string };
}

export function countPrompts(db: Db, datasetId: number): number {
  return db.prepare('SELECT COUNT(*) FROM prompts WHERE dataset_id = ?').pluck().get(datasetId) as number;
}

export function pagePrompts(db: Db, datasetId: number, offset: number, limit: number): PromptWithVideo[] {
  const rows = db
    .prepare(
      `SELECT p.id, p.row_id, p.line, p.question, p.answer,
              v.id AS v_id, v.path, v.duration_s, v.width, v.height, v.fps
       FROM prompts p JOIN videos v ON v.id = p.video_id
       WHERE p.dataset_id = ? ORDER BY p.line LIMIT ? OFFSET ?`,
    )
    .all(datasetId, limit, offset) as Array<{
    id: number;
    row_id: string;
    line: number;
    question: string;
    answer: string | null;
    v_id: number;
    path: string;
    duration_s: number;
    width: number;
    height: number;
    fps: number;
  }>;
  return rows.map((r) => ({
    id: r.id,
    rowId: r.row_id,
    line: r.line,
    question: r.question,
    answer: r.answer,
    video: { id: r.v_id, path: r.path, durationS: r.duration_s, width: r.width, height: r.height, fps: r.fps },
  }));
}
