import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { beginImport } from '../store/datasets';
import { openDatabase } from '../store/db';
import { insertPrompts } from '../store/prompts';
import { createRun, ensureRound, registerModel, saveJudgment, savePair, saveResponse, setRoundPhase } from '../store/rounds';
import { upsertVideo } from '../store/videos';
import { runFigures } from './experiment';

describe("an ablation study's figures", () => {
  it('scores the judge on the pairs ground truth decides and counts its preference for the longer response', () => {
    const db = openDatabase(join(mkdtempSync(join(tmpdir(), 'isr-figures-')), 'studio.db'));
    const datasetId = beginImport(db, 'train', '/data/train.jsonl');
    const videoId = upsertVideo(db, { path: '/data/a.mp4', durationS: 2, width: 64, height: 48, fps: 8 }).id;
    const answers = ['red', 'left', '3', 'circle', 'blue', 'square'];
    insertPrompts(db, answers.map((answer, i) => ({ datasetId, videoId, rowId: String(i), line: i + 1, lineIndex: 0, question: `q${i}?`, answer })));
    const prompts = db.prepare('SELECT id FROM prompts ORDER BY line').pluck().all() as number[];
    const model = registerModel(db, { path: '/m', family: 'idefics3', fingerprint: 'f' });
    const runId = createRun(db, { mode: 'isr', datasetId, evalDatasetId: null, startModelId: model, roundsPlanned: 1, settings: {} });
    const round = ensureRound(db, runId, 1, model, {});
    // (a, b, p(A), judge's choice) per prompt. Decided: 0 (judge right), 1 (judge wrong), 2 (tie leaning right),
    // 5 (tie at exactly 0.5: no lean). Undecided: 3 (both right), 4 (both wrong).
    const pairs: [string, string, number, 'a' | 'b' | 'tie'][] = [
      ['Red.', 'green, and a blue square moves up', 0.9, 'a'],
      ['right', 'Left. The red circle moves left.', 0.9, 'a'],
      ['3', 'four', 0.52, 'tie'],
      ['circle', 'circle. The circle is big.', 0.1, 'b'],
      ['red', 'green', 0.1, 'b'],
      ['square', 'circle', 0.5, 'tie'],
    ];
    pairs.forEach(([a, b, pA, choice], i) => {
      const ids = [a, b].map((text, k) => saveResponse(db, round.id, { promptId: prompts[i], sample: k, text, tokenCount: 1, seed: k }));
      savePair(db, round.id, { promptId: prompts[i], responseAId: ids[0], responseBId: ids[1], pA, judgeChoice: choice });
      saveJudgment(db, round.id, { responseAId: ids[0], responseBId: ids[1], shownFirst: 'a', contextId: null, pFirst: 0.5, attention: null, visualShare: 0.1 * (i + 1) });
    });
    setRoundPhase(db, round.id, 'done');

    const [r] = runFigures(db, runId).rounds;
    expect(r).toMatchObject({ round: 1, decided: 4, judgeRight: 1, judgeTies: 2, judgeAccuracy: 0.5, pairs: 4, ties: 2 });
    // The lean ignores the band: pairs 0 and 2 lean right, 1 wrong, 5 not at all.
    expect(r).toMatchObject({ leanRight: 2, leaning: 3 });
    // Non-tie verdicts on pairs of unequal length: 0 (shorter), 1 (shorter), 3 (longer), 4 (same length: left out).
    expect(r.preferLonger).toBeCloseTo(1 / 3, 12);
    expect(r.visualShare).toBeCloseTo(0.35, 12);
    const words = pairs.flatMap(([a, b]) => [a, b]).map((t) => t.split(' ').length);
    expect(r.responseWords).toBeCloseTo(words.reduce((s, w) => s + w, 0) / words.length, 12);
    expect(r.accuracy).toBeNull();
  });
});
