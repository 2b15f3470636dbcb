import { describe, expect, it } from 'vitest';
import {
  addOverride, addOverrides, addOverridesEach, pairPlace, pairRow, queryPairs, reviewedPairs, reviewProgress, saveTrainedPairs, setReviewBudget,
  setRoundReview, trainedPairsOf, trainedSide, verdictInForce, type PairQuery,
} from './review';
import { ensureRound, pairsOf, roundsOf, saveJudgment, savePair, saveResponse } from './rounds';
import { onePromptRun } from './testing/one-prompt-run';

/** A run (tie band [0.45, 0.55]) with one round on one prompt, and a maker of pairs. */
function seeded() {
  const { db, promptId, runId, modelId } = onePromptRun({ tieBand: [0.45, 0.55] });
  const round = ensureRound(db, runId, 1, modelId, {});
  let k = 0;
  /** A pair from p(A) asked A first, p(A) asked B first, the token counts and texts of A and B. */
  const pair = (aFirst: number, bFirst: number, lenA = 1, lenB = 1, texts = ['x', 'y']) => {
    const a = saveResponse(db, round.id, { promptId, sample: k++, text: texts[0], tokenCount: lenA, seed: k });
    const b = saveResponse(db, round.id, { promptId, sample: k++, text: texts[1], tokenCount: lenB, seed: k });
    saveJudgment(db, round.id, { responseAId: a, responseBId: b, shownFirst: 'a', contextId: null, pFirst: aFirst, attention: null, visualShare: null });
    saveJudgment(db, round.id, { responseAId: a, responseBId: b, shownFirst: 'b', contextId: null, pFirst: 1 - bFirst, attention: null, visualShare: null });
    const pA = (aFirst + bFirst) / 2;
    return savePair(db, round.id, { promptId, responseAId: a, responseBId: b, pA, judgeChoice: pA > 0.55 ? 'a' : pA < 0.45 ? 'b' : 'tie' });
  };
  return { db, runId, round, pair };
}

describe('people\'s verdicts', () => {
  it('puts the latest verdict in force over the judge, keeps every one, and withdraws with cleared', () => {
    const { db, round, pair } = seeded();
    const id = pair(0.9, 0.9);
    const inForce = () => pairsOf(db, round.id)[0];
    addOverride(db, id, 'b', 'ana');
    expect([verdictInForce(inForce()), trainedSide(inForce())]).toEqual(['b', 'b']);
    addOverride(db, id, 'tie', 'ana');
    expect([verdictInForce(inForce()), trainedSide(inForce())]).toEqual(['tie', null]);
    addOverride(db, id, 'both-bad', 'ana');
    expect([verdictInForce(inForce()), trainedSide(inForce())]).toEqual(['both-bad', null]);
    addOverride(db, id, 'cleared', 'ana');
    expect(inForce()).toMatchObject({ override: null, judgeChoice: 'a', pA: 0.9 });
    expect(trainedSide(inForce())).toBe('a');
    expect(db.prepare('SELECT choice FROM overrides ORDER BY id').pluck().all()).toEqual(['b', 'tie', 'both-bad', 'cleared']);
  });

  it('sets many pairs at once, to one verdict or to the judge\'s own', () => {
    const { db, round, pair } = seeded();
    const ids = [pair(0.9, 0.9), pair(0.1, 0.2), pair(0.5, 0.5)];
    expect(addOverrides(db, ids, 'judge', 'bo')).toBe(3);
    expect(pairsOf(db, round.id).map((p) => p.override)).toEqual(['a', 'b', 'tie']);
    expect(addOverrides(db, ids.slice(0, 2), 'both-bad')).toBe(2);
    expect(addOverridesEach(db, [{ pairId: ids[2], verdict: 'a' }, { pairId: ids[0], verdict: 'cleared' }])).toBe(2);
    expect(pairsOf(db, round.id).map((p) => p.override)).toEqual([null, 'both-bad', 'a']);
  });
});

describe('the review queue', () => {
  it('pages the pairs sorted for review, by confidence, disagreement or length difference', () => {
    const { db, runId, pair } = seeded();
    // 0: sure, orders agree; 1: inside the tie band; 2: the orders disagree (0.95 vs 0.25); 3: near 0.5 but outside the band.
    const ids = [pair(0.9, 0.9, 3, 3), pair(0.55, 0.45, 2, 12), pair(0.95, 0.25, 5, 4), pair(0.6, 0.58, 1, 1)];
    const page = (q: Partial<PairQuery>) => queryPairs(db, { runId, sort: 'id', offset: 0, limit: 10, ...q }).pairs.map((p) => ids.indexOf(p.id));
    expect(page({})).toEqual([0, 1, 2, 3]);
    // Review: the orders disagreeing or inside the tie band first (nearest 0.5 first among them), then nearest 0.5.
    expect(page({ sort: 'review' })).toEqual([1, 2, 3, 0]);
    expect(page({ sort: 'confidence' })).toEqual([1, 3, 2, 0]);
    expect(page({ sort: 'disagreement' })).toEqual([2, 1, 3, 0]);
    expect(page({ sort: 'length' })).toEqual([1, 2, 0, 3]);
    const [row] = queryPairs(db, { runId, sort: 'disagreement', offset: 0, limit: 1 }).pairs;
    expect(row).toMatchObject({ ordersDisagree: true, lengthDiff: 1 });
    expect(row.disagreement).toBeCloseTo(0.7, 10);
    expect(pairRow(db, ids[0])!.ordersDisagree).toBe(false);
  });

  it('filters by verdict state, judge choice, p(A) range, order disagreement and text', () => {
    const { db, runId, pair } = seeded();
    const ids = [pair(0.9, 0.9, 1, 1, ['red square', 'blue']), pair(0.2, 0.1), pair(0.95, 0.25, 1, 1, ['x', 'a RED circle']), pair(0.5, 0.5)];
    const page = (q: Partial<PairQuery>) => queryPairs(db, { runId, sort: 'id', offset: 0, limit: 10, ...q });
    addOverride(db, ids[1], 'a');
    expect(page({ overridden: true }).pairs.map((p) => p.id)).toEqual([ids[1]]);
    expect(page({ overridden: false }).total).toBe(3);
    expect(page({ judgeChoice: 'a' }).pairs.map((p) => p.id)).toEqual([ids[0], ids[2]]);
    expect(page({ pA: [0.4, 0.6] }).pairs.map((p) => p.id)).toEqual([ids[2], ids[3]]);
    expect(page({ ordersDisagree: true }).pairs.map((p) => p.id)).toEqual([ids[2]]);
    expect(page({ text: 'Red' }).pairs.map((p) => p.id)).toEqual([ids[0], ids[2]]);
    expect(page({ text: 'colour' }).total).toBe(4); // the question
    expect(page({ judgeChoice: 'a', text: 'circle' }).pairs.map((p) => p.id)).toEqual([ids[2]]);
    expect(page({ round: 2 }).total).toBe(0);
    expect(pairRow(db, ids[1])).toMatchObject({ override: 'a', judgeChoice: 'b', question: 'What colour?' });
    expect(pairPlace(db, ids[1])).toMatchObject({ runId, round: 1, reference: 'red' });
  });
});

describe('a round\'s review', () => {
  it('counts what people reviewed against their budget, and keeps the round\'s state', () => {
    const { db, runId, round, pair } = seeded();
    const ids = [pair(0.9, 0.9), pair(0.2, 0.1), pair(0.5, 0.5)];
    expect(reviewProgress(db, round.id)).toEqual({ reviewed: 0, total: 3, budget: null });
    addOverride(db, ids[0], 'b');
    addOverride(db, ids[1], 'tie');
    addOverride(db, ids[1], 'cleared');
    setReviewBudget(db, round.id, 2);
    expect(reviewProgress(db, round.id)).toEqual({ reviewed: 1, total: 3, budget: 2 });
    setRoundReview(db, round.id, 'awaiting');
    expect(roundsOf(db, runId)[0].review).toBe('awaiting');
    expect(reviewedPairs(db, runId)).toEqual([{ judgeChoice: 'a', pA: 0.9, person: 'b' }]);
    expect(reviewedPairs(db, runId, 2)).toEqual([]);
  });

  it('records what a round trained on once, the first record kept', () => {
    const { db, round, pair } = seeded();
    const id = pair(0.9, 0.9);
    const [p] = pairsOf(db, round.id);
    saveTrainedPairs(db, round.id, [{ pairId: id, chosenResponseId: p.responseBId, rejectedResponseId: p.responseAId }]);
    saveTrainedPairs(db, round.id, [{ pairId: id, chosenResponseId: p.responseAId, rejectedResponseId: p.responseBId }]);
    expect(trainedPairsOf(db, round.id)).toEqual([{ pairId: id, chosenResponseId: p.responseBId, rejectedResponseId: p.responseAId }]);
  });
});
