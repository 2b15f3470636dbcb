import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunMode } from '../../shared/types';
import { readModelConfig } from '../engine/model/config';
import { writeFixture } from '../engine/model/fixture';
import { visualTokenCount } from '../engine/model/prompt';
import { Trainer } from '../engine/train/trainer';
import { beginImport, markReady } from '../store/datasets';
import { openDatabase, type Db } from '../store/db';
import { insertPrompts } from '../store/prompts';
import { responsesOf, roundsOf } from '../store/rounds';
import { upsertVideo } from '../store/videos';
import { resolveFfmpeg } from '../video/ffmpeg';
import { flatClip } from '../video/testing/clips';
import type { RunProgress } from './phases/round-scope';
import { createRunRecord, runRounds } from './run';
import { answerTurn, loadTemplates, templateNames } from './templates';
import { parseRunSettings } from './settings';
import { VideoFeatures } from './video-features';
import { VideoLanguageModel } from '../engine/model/vlm';

let dir: string;
let ffmpeg: string;
const model = () => join(dir, 'model');
const questions = ['What colour is the square?', 'Is the square red?', 'Which colour fills the frame?'];
// batchSize 1: each pair is its own batch of the reference pass, so a pass over some of the pairs
// computes exactly what the pass over all of them did.
const settings = { samples: 2, maxNewTokens: 4, frames: 2, tieBand: [0.5, 0.5], train: { epochs: 2, batchSize: 1, lr: 0.01, loraR: 2, loraAlpha: 4 } };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-run-'));
  ffmpeg = (await resolveFfmpeg()).path;
  await flatClip(ffmpeg, join(dir, 'red.mp4'), Array(4).fill([220, 30, 30]), { width: 32, height: 32, fps: 4 });
  await flatClip(ffmpeg, join(dir, 'blue.mp4'), Array(4).fill([30, 30, 220]), { width: 32, height: 32, fps: 4 });
  const templates = loadTemplates();
  writeFixture(model(), { arch: 'llava-onevision', size: 'tiny', seed: 4, corpus: [...templateNames.map((n) => templates[n]), ...questions, 'red blue square'] });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** A fresh database holding one run of one round over three prompts on two clips. */
async function newRun(name: string, mode: RunMode = 'no-context'): Promise<Db> {
  const db = openDatabase(join(dir, `${name}.db`));
  const datasetId = beginImport(db, name, join(dir, `${name}.jsonl`));
  const videoIds = ['red', 'blue'].map((c) => upsertVideo(db, { path: join(dir, `${c}.mp4`), durationS: 1, width: 32, height: 32, fps: 4 }).id);
  insertPrompts(db, questions.map((question, i) => ({ datasetId, videoId: videoIds[i % 2], rowId: `${i}`, line: i + 1, lineIndex: 0, question, answer: i % 2 === 0 ? 'red' : 'blue' })));
  markReady(db, datasetId);
  await createRunRecord(db, { model: model(), mode, datasetId, evalDatasetId: null, rounds: 1, settings });
  return db;
}

const env = (db: Db, name: string, events: RunProgress[], signal?: AbortSignal) => ({
  db, ffmpeg, cacheDir: join(dir, 'cache'), runsDir: join(dir, `${name}.runs`), signal, onProgress: (p: RunProgress) => events.push(p),
});

/** What the round stored, ids left out. */
function stored(db: Db) {
  const all = (sql: string) => db.prepare(sql).all();
  return {
    responses: all('SELECT prompt_id, sample, text, seed, ref_logp FROM responses ORDER BY 1, 2'),
    judgments: all('SELECT response_a_id, shown_first, p_first FROM judgments ORDER BY 1, 2'),
    pairs: all('SELECT prompt_id, p_a, judge_choice FROM pairs ORDER BY 1'),
    // Every metric but the throughput, which is a timing.
    steps: (all('SELECT metrics FROM train_steps ORDER BY step') as { metrics: string }[]).map((r) => {
      const { 'tokens/s': _, ...metrics } = JSON.parse(r.metrics) as Record<string, number>;
      return metrics;
    }),
  };
}

/** Runs the round until its first training step, then stops it as a cancelled job stops. */
async function stopAtTraining(db: Db, name: string): Promise<void> {
  const abort = new AbortController();
  const events: RunProgress[] = [];
  const stopping = env(db, name, events, abort.signal);
  await expect(runRounds(1, { ...stopping, onProgress: (p) => {
    events.push(p);
    if (p.phase === 'training') abort.abort();
  } })).rejects.toThrow(/cancelled/);
  expect(events.some((e) => e.phase === 'reference log-probs')).toBe(true);
  expect(roundsOf(db, 1)[0].phase).toBe('training');
}

describe('a round', () => {
  let whole: ReturnType<typeof stored>;

  it('keeps each trained response\'s reference log-prob in the store', async () => {
    const db = await newRun('whole');
    const events: RunProgress[] = [];
    await runRounds(1, env(db, 'whole', events));
    whole = stored(db);
    const pairs = whole.pairs as { judge_choice: string }[];
    const trained = pairs.filter((p) => p.judge_choice !== 'tie').length;
    expect(trained).toBeGreaterThan(0);
    const kept = (whole.responses as { ref_logp: number | null }[]).filter((r) => r.ref_logp !== null);
    expect(kept).toHaveLength(2 * trained);
    for (const r of kept) expect(r.ref_logp).toBeLessThan(0);
    expect(events.filter((e) => e.phase === 'reference log-probs').at(-1)).toMatchObject({ done: trained, total: trained });
    db.close();
  }, 120_000);

  it('stores for each sample what its prompt draws alone with the stored seed, however the round batched them', async () => {
    const db = openDatabase(join(dir, 'whole.db'));
    const rows = db.prepare('SELECT r.text, r.seed, p.question, v.path FROM responses r JOIN prompts p ON p.id = r.prompt_id JOIN videos v ON v.id = p.video_id').all() as { text: string; seed: number; question: string; path: string }[];
    db.close();
    expect(rows).toHaveLength(2 * questions.length);
    const s = parseRunSettings(settings);
    const vlm = await VideoLanguageModel.load(model());
    const features = new VideoFeatures(vlm, ffmpeg, join(dir, 'cache'));
    try {
      for (const r of rows) {
        const input = { prompt: vlm.prompt(answerTurn(loadTemplates(), r.question), await features.shown(r.path, s.frames)), features: await features.of(r.path, s.frames) };
        const [alone] = await vlm.generate([input], { maxNewTokens: s.maxNewTokens, temperature: s.temperature, topP: s.topP, seed: r.seed });
        expect(alone.text, `${r.question} (seed ${r.seed})`).toBe(r.text);
      }
    } finally {
      await vlm.release();
    }
  }, 120_000);

  it('resumed after its reference pass, computes none again and ends with the data of an uninterrupted round', async () => {
    const db = await newRun('stopped');
    await stopAtTraining(db, 'stopped');
    expect(responsesOf(db, roundsOf(db, 1)[0].id).filter((r) => r.refLogp !== null)).toHaveLength((whole.responses as { ref_logp: number | null }[]).filter((r) => r.ref_logp !== null).length);
    const passes = vi.spyOn(Trainer.prototype, 'referenceLogps');
    const events: RunProgress[] = [];
    await runRounds(1, env(db, 'stopped', events));
    expect(passes).not.toHaveBeenCalled();
    expect(events.filter((e) => e.phase === 'reference log-probs')).toEqual([]);
    expect(stored(db)).toEqual(whole);
    db.close();
  }, 120_000);

  it('killed during its reference pass, keeps the batches it finished and computes only the rest', async () => {
    const trained = (whole.pairs as { judge_choice: string }[]).filter((p) => p.judge_choice !== 'tie').length;
    expect(trained).toBeGreaterThanOrEqual(2);
    const db = await newRun('mid-reference');
    const events: RunProgress[] = [];
    // A throw from the progress callback after the first batch stands for a kill at that moment.
    await expect(runRounds(1, { ...env(db, 'mid-reference', events), onProgress: (p) => {
      if (p.phase === 'reference log-probs' && p.done === 1) throw new Error('killed');
    } })).rejects.toThrow('killed');
    expect(responsesOf(db, roundsOf(db, 1)[0].id).filter((r) => r.refLogp !== null)).toHaveLength(2);
    const resumed: RunProgress[] = [];
    await runRounds(1, env(db, 'mid-reference', resumed));
    expect(resumed.filter((e) => e.phase === 'reference log-probs').map((e) => [e.done, e.total]).at(-1)).toEqual([trained - 1, trained - 1]);
    expect(stored(db)).toEqual(whole);
    db.close();
  }, 120_000);

  it('resumed with a reference log-prob missing, computes only that pair\'s', async () => {
    const db = await newRun('partial');
    await stopAtTraining(db, 'partial');
    const lost = db.prepare('SELECT id FROM responses WHERE ref_logp IS NOT NULL ORDER BY id DESC LIMIT 1').pluck().get() as number;
    db.prepare('UPDATE responses SET ref_logp = NULL WHERE id = ?').run(lost);
    const passes = vi.spyOn(Trainer.prototype, 'referenceLogps');
    const events: RunProgress[] = [];
    await runRounds(1, env(db, 'partial', events));
    expect(passes).toHaveBeenCalledTimes(1);
    expect(events.filter((e) => e.phase === 'reference log-probs').map((e) => [e.done, e.total])).toEqual([[0, 1], [1, 1]]);
    expect(stored(db)).toEqual(whole);
    db.close();
  }, 120_000);

  it('refuses, before storing a run, LoRA targets that adapt nothing and frames that leave no room within max_length', async () => {
    const db = openDatabase(join(dir, 'refused.db'));
    const datasetId = beginImport(db, 'refused', join(dir, 'refused.jsonl'));
    const videoId = upsertVideo(db, { path: join(dir, 'red.mp4'), durationS: 1, width: 32, height: 32, fps: 4 }).id;
    insertPrompts(db, [{ datasetId, videoId, rowId: '1', line: 1, lineIndex: 0, question: 'What colour?', answer: 'red' }]);
    const create = (over: object) => createRunRecord(db, { model: model(), mode: 'isr', datasetId, evalDatasetId: null, rounds: 1, settings: { ...settings, ...over } });
    await expect(create({ train: { ...settings.train, loraTargets: ['q_proj', 'bogus_proj'] } })).rejects.toThrow(
      `run settings train.loraTargets for ${model()}: LoRA target "bogus_proj" matches no linear layer of the model`,
    );
    const perFrame = visualTokenCount(readModelConfig(model()), 1);
    await expect(create({ frames: 8, maxNewTokens: 48, train: { ...settings.train, maxLength: 8 * perFrame } })).rejects.toThrow(
      `run settings: 8 frames are ${visualTokenCount(readModelConfig(model()), 8)} visual tokens, which with responses of up to 48 tokens is over train.maxLength ${8 * perFrame}: show fewer frames or raise train.maxLength`,
    );
    expect(db.prepare('SELECT COUNT(*) FROM runs').pluck().get()).toBe(0);
    await create({ frames: 8, maxNewTokens: 48, train: { ...settings.train, maxLength: 8 * perFrame + 48 + 100 } });
    expect(db.prepare('SELECT COUNT(*) FROM runs').pluck().get()).toBe(1);
    db.close();
  });
});
