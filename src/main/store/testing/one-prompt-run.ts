// A fresh database in a temporary folder holding one dataset of one prompt on one video, a start
// model and a run of two planned rounds with `settings`: what the store's specs build on.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beginImport } from '../datasets';
import { openDatabase, type Db } from '../db';
import { insertPrompts } from '../prompts';
import { createRun, registerModel } from '../rounds';
import { upsertVideo } from '../videos';

export function onePromptRun(settings: Record<string, unknown>): { db: Db; promptId: number; videoId: number; runId: number; modelId: number } {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'isr-store-')), 'studio.db'));
  const datasetId = beginImport(db, 'train', '/data/train.jsonl');
  const videoId = upsertVideo(db, { path: '/data/a.mp4', durationS: 2, width: 64, height: 48, fps: 8 }).id;
  insertPrompts(db, [{ datasetId, videoId, rowId: '1', line: 1, lineIndex: 0, question: 'What colour?', answer: 'red' }]);
  const promptId = db.prepare('SELECT id FROM prompts').pluck().get() as number;
  const modelId = registerModel(db, { path: '/models/start', family: 'idefics3', fingerprint: 'f0' });
  const runId = createRun(db, { mode: 'isr', datasetId, evalDatasetId: null, startModelId: modelId, roundsPlanned: 2, settings });
  return { db, promptId, videoId, runId, modelId };
}
