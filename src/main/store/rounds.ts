// The round history (migration 003): models, runs, rounds and everything a round produces (people's
// review of it: store/review.ts). Each
// produced item is written on its own as it is made (an INSERT that is a no-op when the item is
// already there), so a round killed at any point resumes by asking what is stored and doing the rest.
import type { PersonVerdict, RunMode } from '../../shared/types';
import type { Db } from './db';
export type RoundPhase = 'responses' | 'contexts' | 'judging' | 'pairs' | 'training' | 'evaluation' | 'done';
export type Choice = 'a' | 'b' | 'tie';

/** The id of the model at `path`, registering it when new. */
export function registerModel(db: Db, model: { path: string; family: string; fingerprint: string; parentId?: number | null }): number {
  const found = db.prepare('SELECT id, fingerprint FROM models WHERE path = ?').get(model.path) as { id: number; fingerprint: string } | undefined;
  if (found) {
    if (found.fingerprint !== model.fingerprint) {
      // The folder was rewritten (e.g. retrained into the same place): record what it is now.
      db.prepare('UPDATE models SET fingerprint = ? WHERE id = ?').run(model.fingerprint, found.id);
    }
    return found.id;
  }
  return Number(
    db.prepare('INSERT INTO models (path, family, fingerprint, parent_id) VALUES (?, ?, ?, ?)').run(model.path, model.family, model.fingerprint, model.parentId ?? null).lastInsertRowid,
  );
}

/** Every model folder the studio has run: runs' starting policies and the models rounds trained (newest first). */
export function knownModels(db: Db): { path: string; family: string; createdAt: string; runId: number | null; round: number | null }[] {
  return db
    .prepare(
      `SELECT m.path, m.family, m.created_at AS createdAt, r.run_id AS runId, r.round
       FROM models m LEFT JOIN rounds r ON r.output_model_id = m.id AND r.policy_model_id != m.id
       GROUP BY m.id ORDER BY m.id DESC`,
    )
    .all() as { path: string; family: string; createdAt: string; runId: number | null; round: number | null }[];
}

/** Model `id` as registered: its folder, family and content fingerprint. */
export function modelRecord(db: Db, id: number): { path: string; family: string; fingerprint: string } {
  const found = db.prepare('SELECT path, family, fingerprint FROM models WHERE id = ?').get(id) as { path: string; family: string; fingerprint: string } | undefined;
  if (found === undefined) throw new Error(`no model with id ${id} in the database`);
  return found;
}

/** The folder of model `id`, as registered. */
export function modelPath(db: Db, id: number): string {
  const path = db.prepare('SELECT path FROM models WHERE id = ?').pluck().get(id) as string | undefined;
  if (path === undefined) throw new Error(`no model with id ${id} in the database`);
  return path;
}

export interface RunRecord {
  id: number;
  mode: RunMode;
  datasetId: number;
  evalDatasetId: number | null;
  startModelId: number;
  roundsPlanned: number;
  settings: unknown;
  status: 'running' | 'stopped' | 'done' | 'failed';
  error: string | null;
  createdAt: string;
}

interface RunRow {
  id: number;
  mode: RunMode;
  dataset_id: number;
  eval_dataset_id: number | null;
  start_model_id: number;
  rounds_planned: number;
  settings: string;
  status: RunRecord['status'];
  error: string | null;
  created_at: string;
}

const toRun = (r: RunRow): RunRecord => ({
  id: r.id, mode: r.mode, datasetId: r.dataset_id, evalDatasetId: r.eval_dataset_id, startModelId: r.start_model_id,
  roundsPlanned: r.rounds_planned, settings: JSON.parse(r.settings) as unknown, status: r.status, error: r.error, createdAt: r.created_at,
});

export function createRun(db: Db, run: { mode: RunMode; datasetId: number; evalDatasetId: number | null; startModelId: number; roundsPlanned: number; settings: unknown }): number {
  return Number(
    db.prepare('INSERT INTO runs (mode, dataset_id, eval_dataset_id, start_model_id, rounds_planned, settings) VALUES (?, ?, ?, ?, ?, ?)')
      .run(run.mode, run.datasetId, run.evalDatasetId, run.startModelId, run.roundsPlanned, JSON.stringify(run.settings)).lastInsertRowid,
  );
}

export function getRun(db: Db, id: number): RunRecord | undefined {
  const row = db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunRow | undefined;
  return row && toRun(row);
}

export function listRuns(db: Db): RunRecord[] {
  return (db.prepare('SELECT * FROM runs ORDER BY id').all() as RunRow[]).map(toRun);
}

export function setRunStatus(db: Db, id: number, status: RunRecord['status'], error: string | null = null): void {
  db.prepare('UPDATE runs SET status = ?, error = ? WHERE id = ?').run(status, error, id);
}

export interface RoundRecord {
  id: number;
  runId: number;
  round: number;
  policyModelId: number;
  outputModelId: number | null;
  phase: RoundPhase;
  templates: Record<string, string>;
  /** People's review before training (store/review.ts): awaiting, released, or none. */
  review: 'awaiting' | 'released' | null;
}

interface RoundRow {
  id: number;
  run_id: number;
  round: number;
  policy_model_id: number;
  output_model_id: number | null;
  phase: RoundPhase;
  templates: string;
  review: RoundRecord['review'];
}

const toRound = (r: RoundRow): RoundRecord => ({
  id: r.id, runId: r.run_id, round: r.round, policyModelId: r.policy_model_id, outputModelId: r.output_model_id, phase: r.phase,
  templates: JSON.parse(r.templates) as Record<string, string>, review: r.review,
});

/** Round `round` of a run, created on first call with its policy and the template texts it uses. */
export function ensureRound(db: Db, runId: number, round: number, policyModelId: number, templates: Record<string, string>): RoundRecord {
  db.prepare('INSERT INTO rounds (run_id, round, policy_model_id, templates) VALUES (?, ?, ?, ?) ON CONFLICT (run_id, round) DO NOTHING')
    .run(runId, round, policyModelId, JSON.stringify(templates));
  return toRound(db.prepare('SELECT * FROM rounds WHERE run_id = ? AND round = ?').get(runId, round) as RoundRow);
}

export function roundsOf(db: Db, runId: number): RoundRecord[] {
  return (db.prepare('SELECT * FROM rounds WHERE run_id = ? ORDER BY round').all(runId) as RoundRow[]).map(toRound);
}

export function setRoundPhase(db: Db, roundId: number, phase: RoundPhase): void {
  db.prepare(`UPDATE rounds SET phase = ?, finished_at = CASE WHEN ? = 'done' THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now') END WHERE id = ?`).run(phase, phase, roundId);
}

export function setRoundOutput(db: Db, roundId: number, modelId: number): void {
  db.prepare('UPDATE rounds SET output_model_id = ? WHERE id = ?').run(modelId, roundId);
}

export interface ResponseRecord {
  id: number;
  promptId: number;
  sample: number;
  text: string;
  tokenCount: number;
  seed: number;
  refLogp: number | null;
}

/** Stores a sample unless that (round, prompt, sample) is already stored; returns the stored id. */
export function saveResponse(db: Db, roundId: number, r: Omit<ResponseRecord, 'id' | 'refLogp'>): number {
  db.prepare('INSERT INTO responses (round_id, prompt_id, sample, text, token_count, seed) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
    .run(roundId, r.promptId, r.sample, r.text, r.tokenCount, r.seed);
  return db.prepare('SELECT id FROM responses WHERE round_id = ? AND prompt_id = ? AND sample = ?').pluck().get(roundId, r.promptId, r.sample) as number;
}

export function responsesOf(db: Db, roundId: number): ResponseRecord[] {
  return db
    .prepare('SELECT id, prompt_id AS promptId, sample, text, token_count AS tokenCount, seed, ref_logp AS refLogp FROM responses WHERE round_id = ? ORDER BY prompt_id, sample')
    .all(roundId) as ResponseRecord[];
}

/** Two responses (a pair's), by id. */
export function pairResponses(db: Db, aId: number, bId: number): Map<number, ResponseRecord> {
  const rows = db
    .prepare('SELECT id, prompt_id AS promptId, sample, text, token_count AS tokenCount, seed, ref_logp AS refLogp FROM responses WHERE id IN (?, ?)')
    .all(aId, bId) as ResponseRecord[];
  return new Map(rows.map((r) => [r.id, r]));
}

export function setRefLogp(db: Db, responseId: number, logp: number): void {
  db.prepare('UPDATE responses SET ref_logp = ? WHERE id = ?').run(logp, responseId);
}

/** Reference log-probs of many responses, in one transaction. */
export function setRefLogps(db: Db, values: readonly { responseId: number; logp: number }[]): void {
  db.transaction(() => values.forEach((v) => setRefLogp(db, v.responseId, v.logp)))();
}

export interface ContextRecord {
  id: number;
  videoId: number;
  text: string;
  refinedId: number | null;
}

export function saveContext(db: Db, roundId: number, c: Omit<ContextRecord, 'id'>): number {
  db.prepare('INSERT INTO contexts (round_id, video_id, text, refined_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(roundId, c.videoId, c.text, c.refinedId);
  return db.prepare('SELECT id FROM contexts WHERE round_id = ? AND video_id = ?').pluck().get(roundId, c.videoId) as number;
}

export function contextsOf(db: Db, roundId: number): ContextRecord[] {
  return db.prepare('SELECT id, video_id AS videoId, text, refined_id AS refinedId FROM contexts WHERE round_id = ? ORDER BY video_id').all(roundId) as ContextRecord[];
}

/** The chain of contexts a context refined, oldest first, ending with it (c0 -> ... -> ct). */
export function contextChain(db: Db, contextId: number): ContextRecord[] {
  const chain: ContextRecord[] = [];
  let id: number | null = contextId;
  while (id !== null) {
    const c = db.prepare('SELECT id, video_id AS videoId, text, refined_id AS refinedId FROM contexts WHERE id = ?').get(id) as ContextRecord | undefined;
    if (!c) break;
    chain.unshift(c);
    id = c.refinedId;
  }
  return chain;
}

export interface JudgmentRecord {
  id: number;
  responseAId: number;
  responseBId: number;
  shownFirst: 'a' | 'b';
  contextId: number | null;
  pFirst: number;
  attention: { frames: number; rows: number; cols: number; data: Float32Array } | null;
  visualShare: number | null;
}

export function saveJudgment(db: Db, roundId: number, j: Omit<JudgmentRecord, 'id'>): number {
  const a = j.attention;
  db.prepare(
    `INSERT INTO judgments (round_id, response_a_id, response_b_id, shown_first, context_id, p_first, attention, attention_frames, attention_rows, attention_cols, visual_share)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  ).run(roundId, j.responseAId, j.responseBId, j.shownFirst, j.contextId, j.pFirst,
    a ? Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength) : null, a?.frames ?? null, a?.rows ?? null, a?.cols ?? null, j.visualShare);
  return db.prepare('SELECT id FROM judgments WHERE response_a_id = ? AND response_b_id = ? AND shown_first = ?').pluck().get(j.responseAId, j.responseBId, j.shownFirst) as number;
}

interface JudgmentRow {
  id: number;
  response_a_id: number;
  response_b_id: number;
  shown_first: 'a' | 'b';
  context_id: number | null;
  p_first: number;
  attention: Buffer | null;
  attention_frames: number | null;
  attention_rows: number | null;
  attention_cols: number | null;
  visual_share: number | null;
}

export function judgmentsOf(db: Db, roundId: number): JudgmentRecord[] {
  return (db.prepare('SELECT * FROM judgments WHERE round_id = ? ORDER BY id').all(roundId) as JudgmentRow[]).map(toJudgment);
}

/** Both orders' judgments of one pair of responses. */
export function pairJudgments(db: Db, aId: number, bId: number): JudgmentRecord[] {
  return (db.prepare('SELECT * FROM judgments WHERE response_a_id = ? AND response_b_id = ? ORDER BY id').all(aId, bId) as JudgmentRow[]).map(toJudgment);
}

function toJudgment(r: JudgmentRow): JudgmentRecord {
  return {
    id: r.id, responseAId: r.response_a_id, responseBId: r.response_b_id, shownFirst: r.shown_first, contextId: r.context_id, pFirst: r.p_first,
    // Copied out of the row's buffer: a Float32Array needs 4-byte alignment.
    attention: r.attention === null ? null : { frames: r.attention_frames!, rows: r.attention_rows!, cols: r.attention_cols!, data: new Float32Array(Uint8Array.from(r.attention).buffer) },
    visualShare: r.visual_share,
  };
}

export interface PairRecord {
  id: number;
  promptId: number;
  responseAId: number;
  responseBId: number;
  pA: number;
  judgeChoice: Choice;
  /** People's verdict in force, if any (store/review.ts). */
  override: PersonVerdict | null;
}

export function savePair(db: Db, roundId: number, p: Omit<PairRecord, 'id' | 'override'>): number {
  db.prepare('INSERT INTO pairs (round_id, prompt_id, response_a_id, response_b_id, p_a, judge_choice) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
    .run(roundId, p.promptId, p.responseAId, p.responseBId, p.pA, p.judgeChoice);
  return db.prepare('SELECT id FROM pairs WHERE response_a_id = ? AND response_b_id = ?').pluck().get(p.responseAId, p.responseBId) as number;
}

const pairSql = `
  SELECT p.id, p.prompt_id AS promptId, p.response_a_id AS responseAId, p.response_b_id AS responseBId, p.p_a AS pA, p.judge_choice AS judgeChoice,
    (SELECT CASE o.choice WHEN 'cleared' THEN NULL ELSE o.choice END FROM overrides o WHERE o.pair_id = p.id ORDER BY o.id DESC LIMIT 1) AS override
  FROM pairs p`;

export function pairsOf(db: Db, roundId: number): PairRecord[] {
  return db.prepare(`${pairSql} WHERE p.round_id = ? ORDER BY p.id`).all(roundId) as PairRecord[];
}

export function saveTrainStep(db: Db, roundId: number, step: number, epoch: number, metrics: Record<string, number>): void {
  db.prepare('INSERT OR REPLACE INTO train_steps (round_id, step, epoch, metrics) VALUES (?, ?, ?, ?)').run(roundId, step, epoch, JSON.stringify(metrics));
}

export function trainStepsOf(db: Db, roundId: number): { step: number; epoch: number; metrics: Record<string, number> }[] {
  return (db.prepare('SELECT step, epoch, metrics FROM train_steps WHERE round_id = ? ORDER BY step').all(roundId) as { step: number; epoch: number; metrics: string }[])
    .map((r) => ({ step: r.step, epoch: r.epoch, metrics: JSON.parse(r.metrics) as Record<string, number> }));
}

export function trainStepCount(db: Db, roundId: number): number {
  return db.prepare('SELECT COUNT(*) FROM train_steps WHERE round_id = ?').pluck().get(roundId) as number;
}

export interface EvaluationRecord {
  promptId: number;
  answer: string;
  tokenCount: number;
  wordCount: number;
  score: number | null;
}

export function saveEvaluation(db: Db, roundId: number, e: EvaluationRecord): void {
  db.prepare('INSERT INTO evaluations (round_id, prompt_id, answer, token_count, word_count, score) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING')
    .run(roundId, e.promptId, e.answer, e.tokenCount, e.wordCount, e.score);
}

export function evaluationsOf(db: Db, roundId: number): EvaluationRecord[] {
  return db
    .prepare('SELECT prompt_id AS promptId, answer, token_count AS tokenCount, word_count AS wordCount, score FROM evaluations WHERE round_id = ? ORDER BY prompt_id')
    .all(roundId) as EvaluationRecord[];
}

/** Mean share of the verdicts' attention on visual tokens; null when no judgment of the round saw a video. */
export function meanVisualShare(db: Db, roundId: number): number | null {
  return db.prepare('SELECT AVG(visual_share) FROM judgments WHERE round_id = ? AND visual_share IS NOT NULL').pluck().get(roundId) as number | null;
}
