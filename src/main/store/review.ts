// People in the loop (migration 004): the review queue of a run's pairs, people's verdicts
// (append-only; the judge's record never changes), a round's review state and budget, what a
// round trained on, and the pairs agreement is measured over. docs/method.md, People's review.
import type { PairChoice, PairSummary, PersonVerdict } from '../../shared/types';
import type { Db } from './db';
import type { PairRecord } from './rounds';

/** A verdict as stored: a person's, or 'cleared', which withdraws the one before it. */
export type StoredVerdict = PersonVerdict | 'cleared';

/** A person's verdict on a pair (or 'cleared'): appended, never replacing the judge's record. */
export function addOverride(db: Db, pairId: number, choice: StoredVerdict, author = ''): void {
  db.prepare('INSERT INTO overrides (pair_id, choice, author) VALUES (?, ?, ?)').run(pairId, choice, author);
}

/** The same verdict on many pairs in one transaction; `judge` gives each pair the judge's own verdict. */
export function addOverrides(db: Db, pairIds: readonly number[], choice: StoredVerdict | 'judge', author = ''): number {
  const insert = db.prepare(
    `INSERT INTO overrides (pair_id, choice, author) SELECT id, CASE WHEN @choice = 'judge' THEN judge_choice ELSE @choice END, @author FROM pairs WHERE id = @id`,
  );
  return db.transaction(() => pairIds.reduce((n, id) => n + insert.run({ id, choice, author }).changes, 0))();
}

/** Each pair's own verdict, in one transaction. */
export function addOverridesEach(db: Db, verdicts: readonly { pairId: number; verdict: StoredVerdict }[], author = ''): number {
  const insert = db.prepare('INSERT INTO overrides (pair_id, choice, author) VALUES (?, ?, ?)');
  return db.transaction(() => verdicts.reduce((n, v) => n + insert.run(v.pairId, v.verdict, author).changes, 0))();
}

/** What a pair is in force as: people's verdict where there is one, else the judge's. */
export const verdictInForce = (p: Pick<PairRecord, 'override' | 'judgeChoice'>): PersonVerdict => p.override ?? p.judgeChoice;

/** The side a pair trains towards, or null: a tie (kept, not trained on) or both bad (dropped). */
export function trainedSide(p: Pick<PairRecord, 'override' | 'judgeChoice'>): 'a' | 'b' | null {
  const v = verdictInForce(p);
  return v === 'a' || v === 'b' ? v : null;
}

// ---- a round's review --------------------------------------------------------------------------

export type ReviewState = 'awaiting' | 'released';

export function setRoundReview(db: Db, roundId: number, state: ReviewState): void {
  db.prepare('UPDATE rounds SET review = ? WHERE id = ?').run(state, roundId);
}

export function setReviewBudget(db: Db, roundId: number, budget: number | null): void {
  db.prepare('UPDATE rounds SET review_budget = ? WHERE id = ?').run(budget, roundId);
}

/** How many of a round's pairs carry a person's verdict, of how many, and the budget set. */
export function reviewProgress(db: Db, roundId: number): { reviewed: number; total: number; budget: number | null } {
  return db
    .prepare(
      `SELECT (SELECT COUNT(*) FROM pairs p WHERE p.round_id = r.id AND ${inForce('p')} IS NOT NULL) AS reviewed,
        (SELECT COUNT(*) FROM pairs WHERE round_id = r.id) AS total, r.review_budget AS budget
       FROM rounds r WHERE r.id = ?`,
    )
    .get(roundId) as { reviewed: number; total: number; budget: number | null };
}

/** The latest verdict on pair `alias`.id, null when there is none or it was cleared (SQL). */
const inForce = (alias: string) =>
  `(SELECT CASE o.choice WHEN 'cleared' THEN NULL ELSE o.choice END FROM overrides o WHERE o.pair_id = ${alias}.id ORDER BY o.id DESC LIMIT 1)`;

// ---- what training used -----------------------------------------------------------------------

export interface TrainedPair {
  pairId: number;
  chosenResponseId: number;
  rejectedResponseId: number;
}

/** Records the round's training examples (once: a resumed round keeps the first record). */
export function saveTrainedPairs(db: Db, roundId: number, pairs: readonly TrainedPair[]): void {
  const insert = db.prepare('INSERT INTO trained_pairs (round_id, pair_id, chosen_response_id, rejected_response_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING');
  db.transaction(() => pairs.forEach((p) => insert.run(roundId, p.pairId, p.chosenResponseId, p.rejectedResponseId)))();
}

export function trainedPairsOf(db: Db, roundId: number): TrainedPair[] {
  return db
    .prepare('SELECT pair_id AS pairId, chosen_response_id AS chosenResponseId, rejected_response_id AS rejectedResponseId FROM trained_pairs WHERE round_id = ? ORDER BY pair_id')
    .all(roundId) as TrainedPair[];
}

// ---- the queue -------------------------------------------------------------------------------

export interface PairQuery {
  runId: number;
  round?: number;
  sort: 'review' | 'id' | 'confidence' | 'disagreement' | 'length';
  overridden?: boolean;
  judgeChoice?: PairChoice;
  pA?: readonly [number, number];
  ordersDisagree?: boolean;
  text?: string;
  offset: number;
  limit: number;
}

// Each pair with both orders' p(A) and its tie band (the run's settings), so the queue can rank
// what the judge is least sure of. p(A) asked B first is 1 - p_first of that order.
const queueSql = (where: string) => `
  SELECT p.id, r.round, q.question, p.p_a AS pA, p.judge_choice AS judgeChoice, ${inForce('p')} AS override,
    ja.p_first AS aFirst, 1 - jb.p_first AS bFirst,
    abs(ja.p_first - (1 - jb.p_first)) AS disagreement,
    ra.token_count - rb.token_count AS lengthDiff,
    json_extract(u.settings, '$.tieBand[0]') AS tieLow, json_extract(u.settings, '$.tieBand[1]') AS tieHigh,
    ra.text AS textA, rb.text AS textB
  FROM pairs p
    JOIN rounds r ON r.id = p.round_id JOIN runs u ON u.id = r.run_id JOIN prompts q ON q.id = p.prompt_id
    JOIN responses ra ON ra.id = p.response_a_id JOIN responses rb ON rb.id = p.response_b_id
    LEFT JOIN judgments ja ON ja.response_a_id = p.response_a_id AND ja.response_b_id = p.response_b_id AND ja.shown_first = 'a'
    LEFT JOIN judgments jb ON jb.response_a_id = p.response_a_id AND jb.response_b_id = p.response_b_id AND jb.shown_first = 'b'
  WHERE ${where}`;
const runQueue = queueSql('r.run_id = @runId AND (@round IS NULL OR r.round = @round)');

/** The two orders prefer different responses (SQL over queueSql's columns). */
const ordersDisagreeSql = '((aFirst - 0.5) * (bFirst - 0.5) < 0)';

const orderBy: Record<PairQuery['sort'], string> = {
  review: `(${ordersDisagreeSql} OR (pA >= tieLow AND pA <= tieHigh)) DESC, abs(pA - 0.5), id`,
  id: 'id',
  confidence: 'abs(pA - 0.5), id',
  disagreement: 'disagreement DESC, id',
  length: 'abs(lengthDiff) DESC, id',
};

const rowColumns = `id, round, question, pA, judgeChoice, override, disagreement, ${ordersDisagreeSql} AS ordersDisagree, lengthDiff`;

function filterSql(q: PairQuery): string {
  const where: string[] = [];
  if (q.overridden !== undefined) where.push(q.overridden ? 'override IS NOT NULL' : 'override IS NULL');
  if (q.judgeChoice !== undefined) where.push('judgeChoice = @judgeChoice');
  if (q.pA !== undefined) where.push('pA >= @pALow AND pA <= @pAHigh');
  if (q.ordersDisagree !== undefined) where.push(q.ordersDisagree ? ordersDisagreeSql : `NOT ${ordersDisagreeSql}`);
  if (q.text !== undefined && q.text !== '') where.push("(instr(lower(question), @text) > 0 OR instr(lower(textA), @text) > 0 OR instr(lower(textB), @text) > 0)");
  return where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
}

const toPairSummary = (r: Omit<PairSummary, 'ordersDisagree'> & { ordersDisagree: number }): PairSummary => ({ ...r, ordersDisagree: r.ordersDisagree === 1 });

/** A page of a run's pairs for review, filtered and sorted by the database. */
export function queryPairs(db: Db, q: PairQuery): { total: number; pairs: PairSummary[] } {
  const filter = filterSql(q);
  const params = {
    runId: q.runId, round: q.round ?? null, judgeChoice: q.judgeChoice ?? null,
    pALow: q.pA?.[0] ?? null, pAHigh: q.pA?.[1] ?? null, text: q.text?.toLowerCase() ?? null,
  };
  const total = db.prepare(`SELECT COUNT(*) FROM (${runQueue}) ${filter}`).pluck().get(params) as number;
  const pairs = db.prepare(`SELECT ${rowColumns} FROM (${runQueue}) ${filter} ORDER BY ${orderBy[q.sort]} LIMIT @limit OFFSET @offset`)
    .all({ ...params, limit: q.limit, offset: q.offset }) as (Omit<PairSummary, 'ordersDisagree'> & { ordersDisagree: number })[];
  return { total, pairs: pairs.map(toPairSummary) };
}

/** Where a pair belongs and what it holds: its run, round, prompt, video and responses. */
export interface PairPlace {
  runId: number;
  roundId: number;
  round: number;
  videoId: number;
  responseAId: number;
  responseBId: number;
  reference: string | null;
  /** The run's settings, as stored (JSON text). */
  settings: string;
}

export function pairPlace(db: Db, pairId: number): PairPlace | undefined {
  return db
    .prepare(
      `SELECT r.run_id AS runId, p.round_id AS roundId, r.round, q.video_id AS videoId, p.response_a_id AS responseAId,
         p.response_b_id AS responseBId, q.answer AS reference, u.settings
       FROM pairs p JOIN rounds r ON r.id = p.round_id JOIN runs u ON u.id = r.run_id JOIN prompts q ON q.id = p.prompt_id WHERE p.id = ?`,
    )
    .get(pairId) as PairPlace | undefined;
}

/** One pair as the review queue shows it: its own rows only, whatever the run's size. */
export function pairRow(db: Db, pairId: number): PairSummary | undefined {
  const row = db.prepare(`SELECT ${rowColumns} FROM (${queueSql('p.id = @id')})`).get({ id: pairId }) as (Omit<PairSummary, 'ordersDisagree'> & { ordersDisagree: number }) | undefined;
  return row && toPairSummary(row);
}

// ---- agreement ---------------------------------------------------------------------------------

/** The judge's verdict and p(A) beside people's, for every pair of the run (one round, or all) a person gave a verdict. */
export function reviewedPairs(db: Db, runId: number, round?: number): { judgeChoice: PairChoice; pA: number; person: PersonVerdict }[] {
  return db
    .prepare(
      `SELECT judgeChoice, pA, person FROM (
         SELECT p.judge_choice AS judgeChoice, p.p_a AS pA, ${inForce('p')} AS person
         FROM pairs p JOIN rounds r ON r.id = p.round_id WHERE r.run_id = @runId AND (@round IS NULL OR r.round = @round)
       ) WHERE person IS NOT NULL`,
    )
    .all({ runId, round: round ?? null }) as { judgeChoice: PairChoice; pA: number; person: PersonVerdict }[];
}
