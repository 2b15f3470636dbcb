import { describe, expect, it } from 'vitest';
import {
  contextChain, ensureRound, evaluationsOf, getRun, judgmentsOf, knownModels, pairJudgments, pairResponses, pairsOf, registerModel, responsesOf,
  roundsOf, saveContext, saveEvaluation, saveJudgment, savePair, saveResponse, saveTrainStep, setRoundOutput, setRoundPhase, setRunStatus, trainStepsOf,
} from './rounds';
import { onePromptRun } from './testing/one-prompt-run';

const seeded = () => onePromptRun({ samples: 2 });

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
    // A pair's own rows, without the round's others.
    expect([...pairResponses(db, a, b).values()].map((r) => r.text)).toEqual(['red', 'a long blue answer']);
    expect(pairJudgments(db, a, b).map((j) => j.shownFirst)).toEqual(['a', 'b']);
    setRunStatus(db, runId, 'done');
    expect(getRun(db, runId)!.status).toBe('done');
    expect(db.pragma('foreign_key_check')).toEqual([]);
  });

  it('records a model once per folder and notices when the folder was rewritten', () => {
    const { db, modelId } = seeded();
    expect(registerModel(db, { path: '/models/start', family: 'idefics3', fingerprint: 'f0' })).toBe(modelId);
    expect(registerModel(db, { path: '/models/start', family: 'idefics3', fingerprint: 'f1' })).toBe(modelId);
    expect(db.prepare('SELECT fingerprint FROM models WHERE id = ?').pluck().get(modelId)).toBe('f1');
    const child = registerModel(db, { path: '/runs/1/round-1', family: 'idefics3', fingerprint: 'f2', parentId: modelId });
    expect(db.prepare('SELECT parent_id FROM models WHERE id = ?').pluck().get(child)).toBe(modelId);
  });

  it('lists the models it knows, newest first: starting policies, and the models rounds trained (a round that trained nothing is no model of its own)', () => {
    const { db, runId, modelId } = seeded();
    const r1 = ensureRound(db, runId, 1, modelId, {});
    const trained = registerModel(db, { path: '/runs/1/round-1/model', family: 'idefics3', fingerprint: 'f2', parentId: modelId });
    setRoundOutput(db, r1.id, trained);
    const r2 = ensureRound(db, runId, 2, trained, {});
    setRoundOutput(db, r2.id, trained);
    expect(knownModels(db).map((m) => [m.path, m.runId, m.round])).toEqual([['/runs/1/round-1/model', runId, 1], ['/models/start', null, null]]);
  });
});
