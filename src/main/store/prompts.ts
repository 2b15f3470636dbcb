// Prompts: the rows of a dataset (a question on a video), stored in batches.
import type { Db } from './db';
import type { VideoRecord } from './videos';

export interface NewPrompt {
  datasetId: number;
  videoId: number;
  rowId: string;
  line: number;
  /** Its place among the rows that start on `line` (0 unless several do). */
  lineIndex: number;
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

/** A row's place in its file: its line, and its place among the rows starting on that line. */
export const rowKey = (line: number, lineIndex: number): string => `${line}:${lineIndex}`;

/** The rows of the source file already stored for the dataset (rowKey): what a resumed import skips. */
export function storedRows(db: Db, datasetId: number): Set<string> {
  const rows = db.prepare('SELECT line, line_index AS lineIndex FROM prompts WHERE dataset_id = ?').all(datasetId) as { line: number; lineIndex: number }[];
  return new Set(rows.map((r) => rowKey(r.line, r.lineIndex)));
}

/** Stores rows; one already there (another import of the same file at the same time) is left as it is. */
export function insertPrompts(db: Db, prompts: NewPrompt[]): void {
  const insert = db.prepare(
    `INSERT INTO prompts (dataset_id, video_id, row_id, line, line_index, question, answer)
     VALUES (@datasetId, @videoId, @rowId, @line, @lineIndex, @question, @answer) ON CONFLICT DO NOTHING`,
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
       WHERE p.dataset_id = ? ORDER BY p.line, p.line_index LIMIT ? OFFSET ?`,
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
