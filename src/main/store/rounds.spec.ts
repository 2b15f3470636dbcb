import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { beginImport } from './datasets';
import { openDatabase, type Db } from './db';
import { insertPrompts } from './prompts';
import {
  addOverride, contextChain, pairRow, queryPairs, createRun, effectiveChoice, ensureRound, evaluationsOf, getRun, judgmentsOf, pairsOf, registerModel, responsesOf,
  roundsOf, saveContext, saveEvaluation, saveJudgment, savePair, saveResponse, saveTrainStep, setRoundPhase, setRunStatus, trainStepsOf,
} from './rounds';
import { upsertVideo } from './videos';

function seeded(): { db: Db; promptId: number; videoId: number; runId: number; modelId: number } {
  const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'isr-rounds-')), 'studio.db'));
  const datasetId = beginImport(db, 'train', '/data/train.jsonl');
  const videoId = upsertVideo(db, { path: '/data/a.mp4', durationS: 2, width: 64, height: 48, fps: 8 }).id;
  insertPrompts(db, [{ datasetId, videoId, rowId: '1', line: 1, question: 'What colour?', answer: 'red' }]);
  const promptId = db.prepare('SELECT id FROM prompts').pluck().get() as number;
  const modelId = registerModel(db, { path: '/models/start', family: 'idefics3', fingerprint: 'f0' });
  const runId = createRun(db, { mode: 'isr', datasetId, evalDatasetId: null, startModelId: modelId, roundsPlanned: 2, settings: { samples: 2 } });
  return { db, promptId, videoId, runId, modelId };
}

describe('the round history', () => {
  it('keeps a round: responses, contexts with their chain, two-order judgments with attention, pairs, steps and evaluations', () => {
    const { db, promptId, videoId, runId, modelId } = seeded();
    expect(getRun(db, runId)).toMatchObject({ mode: 'isr', status: 'running', roundsPlanned: 2, settings: { samples: 2 } });
    const r1 = ensureRound(db, runId, 1, modelId, { describe: 'Describe the video.' });
    expect(ensureRound(db, runId, 1, modelId, { describe: 'other' })).toEqual(r1); // created once
    const a = saveResponse(db, r1.id, { promptId, sample: 0, text: 'red', tokenCount: 1, seed: 11 });
    const b = saveResponse(db, r1.id, { promptId, sample: 1, text: 'a long blue answer', tokenCount: 4, seed: 12 });
    // Saving again (a resumed round) changes nothing.
    expect(saveResponse(db, r1.id, { promptId, sample: 0, text: 'different', tokenCount: 9, seed: 99 })).toBe(a);
    expect(responsesOf(db, r1.id).map((r) => r.text)).toEqual(['red', 'a long blue answer']);

    const c0 = saveContext(db, r1.id, { videoId, text: 'A red square.', refinedId: null });
    const attention = { frames: 2, rows: 2, cols: 3, data: Float32Array.from({ length: 12 }, (_, i) => i / 100) };
    saveJudgment(db, r1.id, { responseAId: a, responseBId: b, shownFirst: 'a', contextId: c0, pFirst: 0.8, attention, visualShare: 0.4 });
    saveJudgment(db, r1.id, { responseAId: a, responseBId: b, shownFirst: 'b', contextId: c0, pFirst: 0.3, attention: null, visualShare: null });
    const [first, second] = judgmentsOf(db, r1.id);
    expect(first.attention!.data).toEqual(attention.data);
    expect(first.attention).toMatchObject({ frames: 2, rows: 2, cols: 3 });
    expect(second).toMatchObject({ shownFirst: 'b', attention: null });

    const pairId = savePair(db, r1.id, { promptId, responseAId: a, responseBId: b, pA: 0.75, judgeChoice: 'a' });
    saveTrainStep(db, r1.id, 1, 0.5, { loss: 0.69, 'rewards/accuracies': 0.5 });
    setRoundPhase(db, r1.id, 'done');

    const r2 = ensureRound(db, runId, 2, modelId, {});
    const c1 = saveContext(db, r2.id, { videoId, text: 'A red square moving left.', refinedId: c0 });
    expect(contextChain(db, c1).map((c) => c.text)).toEqual(['A red square.', 'A red square moving left.']);
    saveEvaluation(db, r2.id, { promptId, answer: 'red', tokenCount: 1, wordCount: 1, score: 1 });
    expect(evaluationsOf(db, r2.id)).toEqual([{ promptId, answer: 'red', tokenCount: 1, wordCount: 1, score: 1 }]);
    expect(trainStepsOf(db, r1.id)).toEqual([{ step: 1, epoch: 0.5, metrics: { loss: 0.69, 'rewards/accuracies': 0.5 } }]);
    expect(roundsOf(db, runId).map((r) => [r.round, r.phase])).toEqual([[1, 'done'], [2, 'responses']]);
    expect(pairsOf(db, r1.id)[0]).toMatchObject({ id: pairId, override: null, judgeChoice: 'a' });
    setRunStatus(db, runId, 'done');
    expect(getRun(db, runId)!.status).toBe('done');
    expect(db.pragma('foreign_key_check')).toEqual([]);
  });

  it('applies the latest override on top of the judge, keeps every override, and undoes with cleared', () => {
    const { db, promptId, runId, modelId } = seeded();
    const round = ensureRound(db, runId, 1, modelId, {});
    const a = saveResponse(db, round.id, { promptId, sample: 0, text: 'x', tokenCount: 1, seed: 1 });
    const b = saveResponse(db, round.id, { promptId, sample: 1, text: 'y', tokenCount: 1, seed: 2 });
    const pairId = savePair(db, round.id, { promptId, responseAId: a, responseBId: b, pA: 0.9, judgeChoice: 'a' });
    addOverride(db, pairId, 'b', 'ana');
    expect(effectiveChoice(pairsOf(db, round.id)[0])).toBe('b');
    addOverride(db, pairId, 'tie', 'ana');
    expect(effectiveChoice(pairsOf(db, round.id)[0])).toBe('tie');
    addOverride(db, pairId, 'cleared', 'ana');
    const [pair] = pairsOf(db, round.id);
    expect(pair).toMatchObject({ override: null, judgeChoice: 'a', pA: 0.9 });
    expect(effectiveChoice(pair)).toBe('a');
    expect(db.prepare('SELECT choice FROM overrides ORDER BY id').pluck().all()).toEqual(['b', 'tie', 'cleared']);
  });

  it('pages the review queue sorted by confidence, disagreement or length difference, and filters overridden pairs', () => {
    const { db, promptId, runId, modelId } = seeded();
    const round = ensureRound(db, runId, 1, modelId, {});
    // Three pairs: (p(A) asked A-first, p(A)'s complement asked B-first, tokens of A, tokens of B).
    const spec: [number, number, number, number][] = [[0.9, 0.9, 3, 3], [0.55, 0.45, 2, 12], [0.95, 0.25, 5, 4]];
    const ids = spec.map(([first, second, lenA, lenB], k) => {
      const a = saveResponse(db, round.id, { promptId, sample: 2 * k, text: `a${k}`, tokenCount: lenA, seed: k });
      const b = saveResponse(db, round.id, { promptId, sample: 2 * k + 1, text: `b${k}`, tokenCount: lenB, seed: k });
      saveJudgment(db, round.id, { responseAId: a, responseBId: b, shownFirst: 'a', contextId: null, pFirst: first, attention: null, visualShare: null });
      saveJudgment(db, round.id, { responseAId: a, responseBId: b, shownFirst: 'b', contextId: null, pFirst: 1 - second, attention: null, visualShare: null });
      return savePair(db, round.id, { promptId, responseAId: a, responseBId: b, pA: (first + second) / 2, judgeChoice: (first + second) / 2 > 0.55 ? 'a' : 'tie' });
    });
    const page = (sort: 'id' | 'confidence' | 'disagreement' | 'length', overridden?: boolean) =>
      queryPairs(db, { runId, sort, overridden, offset: 0, limit: 10 }).pairs.map((p) => ids.indexOf(p.id));
    expect(page('id')).toEqual([0, 1, 2]);
    expect(page('confidence')).toEqual([1, 2, 0]);
    expect(page('disagreement')).toEqual([2, 1, 0]);
    expect(page('length')).toEqual([1, 2, 0]);
    const [row] = queryPairs(db, { runId, sort: 'disagreement', offset: 0, limit: 1 }).pairs;
    expect(row.disagreement).toBeCloseTo(0.7, 10);
    expect(row.lengthDiff).toBe(1);
    addOverride(db, ids[1], 'b');
    expect(page('id', true)).toEqual([1]);
    expect(page('id', false)).toEqual([0, 2]);
    expect(queryPairs(db, { runId, round: 2, sort: 'id', offset: 0, limit: 10 }).total).toBe(0);
    expect(pairRow(db, ids[1])).toMatchObject({ override: 'b', judgeChoice: 'tie', question: 'What colour?' });
  });

  it('records a model once per folder and notices when the folder was rewritten', () => {
    const { db, modelId } = seeded();
    expect(registerModel(db, { path: '/models/start', family: 'idefics3', fingerprint: 'f0' })).toBe(modelId);
    expect(registerModel(db, { path: '/models/start', family: 'idefics3', fingerprint: 'f1' })).toBe(modelId);
    expect(db.prepare('SELECT fingerprint FROM models WHERE id = ?').pluck().get(modelId)).toBe('f1');
    const child = registerModel(db, { path: '/runs/1/round-1', family: 'idefics3', fingerprint: 'f2', parentId: modelId });
    expect(db.prepare('SELECT parent_id FROM models WHERE id = ?').pluck().get(child)).toBe(modelId);
  });
});
