import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobSnapshot } from '../../shared/jobs';
import type { DatasetRowsPage, DatasetSummary, ImportIssue, ImportResult, JobRef, PairDetail, PairsPage, PairSummary, RunHistory, RunResult, RunSummary } from '../../shared/types';
import { writeFixture } from '../engine/model/fixture';
import { resolveFfmpeg } from '../video/ffmpeg';
import { flatClip } from '../video/testing/clips';
import { dispatch } from './dispatch';
import { childProcessEngine } from '../engine-host/child-process';
import { openStudio } from './service';
import type { Studio } from './studio';

let dir: string;
let ffmpeg: string;
let ffmpegSource: string;
const open: Studio[] = [];

beforeAll(async () => {
  ({ path: ffmpeg, source: ffmpegSource } = await resolveFfmpeg());
  dir = mkdtempSync(join(tmpdir(), 'isr-service-'));
  await flatClip(ffmpeg, join(dir, 'a.mp4'), Array(4).fill([200, 30, 30]), { width: 32, height: 24, fps: 4 });
  await flatClip(ffmpeg, join(dir, 'b.mp4'), Array(6).fill([30, 30, 200]), { width: 48, height: 32, fps: 6 });
  writeFileSync(join(dir, 'garbage.mp4'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31) % 256)));
  writeFileSync(join(dir, 'empty.mp4'), '');
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

function studio(): Studio {
  const s = openStudio({ dbPath: join(mkdtempSync(join(dir, 'db-')), 'studio.db'), transport: 'http', engine: childProcessEngine() });
  open.push(s);
  return s;
}

async function call<T>(s: Studio, method: string, input: unknown): Promise<T> {
  const result = await dispatch(s.service, method, input);
  if (!result.ok) throw new Error(`${method} failed: ${result.error.code}: ${result.error.message}`);
  return result.value as T;
}

function finished(s: Studio, jobId: string, onEvent: (j: JobSnapshot) => void = () => {}): Promise<JobSnapshot> {
  return new Promise((resolve) => {
    const stop = s.jobs.onChange((job) => {
      if (job.id !== jobId) return;
      onEvent(job);
      if (job.state !== 'running') {
        stop();
        resolve(job);
      }
    });
  });
}

const rows = [
  { id: 'r1', video: 'a.mp4', question: 'What colour?', answer: 'red' },
  { id: 2, video: 'b.mp4', question: 'What colour?', answer: 'blue' },
  { id: 'r3', video: 'missing.mp4', question: 'q' },
  { id: 'r4', video: 'garbage.mp4', question: 'q' },
  { id: 'r5', video: 'empty.mp4', question: 'q' },
  { id: 'r6', video: 'a.mp4' },
];
/** Nine kinds of row, one per line; line 9 names a.mp4 by absolute path, line 10 reuses an id. */
function datasetFile(): string {
  const lines = [
    ...rows.map((r) => Buffer.from(JSON.stringify(r))),
    Buffer.from('{"id": "r7", "video": "a.mp4", "question": '),
    Buffer.concat([Buffer.from('{"id":"r8","video":"caf'), Buffer.from([0xe9]), Buffer.from('.mp4","question":"q"}')]),
    Buffer.from(JSON.stringify({ id: 'r9', video: join(dir, 'a.mp4'), question: 'Again?' })),
    Buffer.from(JSON.stringify({ id: 'r1', video: 'b.mp4', question: 'dup' })),
  ];
  const path = join(dir, 'mixed.jsonl');
  writeFileSync(path, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
  return path;
}

describe('openStudio through dispatch', () => {
  it('imports good rows, reports every bad one by line and field, and serves thumbnails', async () => {
    const s = studio();
    const phases = new Set<string>();
    const { jobId } = await call<JobRef>(s, 'importDataset', { path: datasetFile(), name: 'mixed' });
    const job = await finished(s, jobId, (j) => phases.add(`${j.phase}/${j.total}`));
    expect(job.state).toBe('done');
    expect(phases).toEqual(new Set(['reading/1', 'probing videos/10']));
    const result = job.result as ImportResult;
    expect(result).toEqual({ datasetId: result.datasetId, imported: 3, skipped: 0, failed: 7 });

    const [summary] = await call<DatasetSummary[]>(s, 'listDatasets', {});
    expect(summary).toMatchObject({ name: 'mixed', status: 'ready', rowCount: 3, errorCount: 7, sourcePath: join(dir, 'mixed.jsonl') });

    const issues = await call<ImportIssue[]>(s, 'getImportIssues', { datasetId: summary.id });
    expect(issues.map((i) => [i.line, i.rowId, i.field])).toEqual([
      [3, 'r3', 'video'],
      [4, 'r4', 'video'],
      [5, 'r5', 'video'],
      [6, 'r6', 'question'],
      [7, null, null],
      [8, 'r8', 'video'],
      [10, 'r1', 'id'],
    ]);
    expect(issues[0].message).toBe(`line 3: video file not found: ${join(dir, 'missing.mp4')}`);
    expect(issues[1].message).toMatch(/garbage\.mp4 is not a video ffmpeg can read: Invalid data/);
    expect(issues[2].message).toMatch(/video file is empty \(0 bytes\): .*empty\.mp4/);
    expect(issues[3].message).toBe('line 6: question is missing');
    expect(issues[4].message).toMatch(/^line 7 is not valid JSON/);
    expect(issues[5].message).toMatch(/field "video" on line 8 has bytes that are not valid UTF-8/);
    expect(issues[6].message).toBe('line 10: id "r1" is already used on line 1');

    const page = await call<DatasetRowsPage>(s, 'getDatasetRows', { datasetId: summary.id });
    expect(page.total).toBe(3);
    expect(page.rows.map((r) => [r.line, r.rowId, r.question, r.answer])).toEqual([
      [1, 'r1', 'What colour?', 'red'],
      [2, '2', 'What colour?', 'blue'],
      [9, 'r9', 'Again?', null],
    ]);
    const [a, b, again] = page.rows.map((r) => r.video);
    expect(a).toMatchObject({ path: join(dir, 'a.mp4'), width: 32, height: 24, fps: 4 });
    expect(a.durationS).toBeCloseTo(1, 1);
    expect(b).toMatchObject({ path: join(dir, 'b.mp4'), width: 48, height: 32, fps: 6 });
    // The same file by a relative and an absolute path is one video, probed once.
    expect(again.id).toBe(a.id);
    expect(a.thumbnail).toBe(`thumb/${a.id}`);
    const thumb = await s.resolveMedia(a.thumbnail!);
    expect(thumb).not.toBeNull();
    expect([...readFileSync(thumb!).subarray(0, 2)]).toEqual([0xff, 0xd8]);

    const second = await call<DatasetRowsPage>(s, 'getDatasetRows', { datasetId: summary.id, offset: 1, limit: 1 });
    expect(second).toMatchObject({ total: 3, offset: 1, rows: [{ line: 2 }] });

    // Importing again skips what is stored and reports the bad rows once, not twice.
    const rerun = await call<JobRef>(s, 'importDataset', { path: join(dir, 'mixed.jsonl'), name: 'mixed' });
    expect((await finished(s, rerun.jobId)).result).toEqual({ datasetId: summary.id, imported: 0, skipped: 3, failed: 7 });
    expect(await call<ImportIssue[]>(s, 'getImportIssues', { datasetId: summary.id })).toHaveLength(7);
    expect(await call<DatasetSummary[]>(s, 'listDatasets', {})).toHaveLength(1);
  });

  it('answers a wrongly typed call with invalid_argument naming the field', async () => {
    const s = studio();
    const result = await dispatch(s.service, 'getDatasetRows', { datasetId: 'one' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('invalid_argument');
    expect(result.error.message).toMatch(/^getDatasetRows: datasetId: /);
    expect(result.error.details).toEqual([expect.objectContaining({ field: 'datasetId' })]);
  });

  it('answers an unknown dataset, job or method with not_found', async () => {
    const s = studio();
    for (const [method, input] of [
      ['getDatasetRows', { datasetId: 999 }],
      ['getImportIssues', { datasetId: 999 }],
      ['cancelJob', { jobId: 'nope' }],
      ['dropTables', {}],
    ] as const) {
      const result = await dispatch(s.service, method, input);
      expect(result, method).toMatchObject({ ok: false, error: { code: 'not_found' } });
    }
  });

  it('fails an import of a missing file as a job with a bad_input error naming it, storing nothing', async () => {
    const s = studio();
    const { jobId } = await call<JobRef>(s, 'importDataset', { path: join(dir, 'nope.jsonl') });
    const job = await finished(s, jobId);
    expect(job.state).toBe('failed');
    expect(job.error).toEqual({ code: 'bad_input', message: `dataset file not found: ${join(dir, 'nope.jsonl')}` });
    expect(await call<DatasetSummary[]>(s, 'listDatasets', {})).toEqual([]);
  });

  /** A dataset of `total` copies of a.mp4, so each row costs a real probe and thumbnail. */
  function manyRows(total: number): string {
    const many = Array.from({ length: total }, (_, i) => {
      copyFileSync(join(dir, 'a.mp4'), join(dir, `copy${i}.mp4`));
      return JSON.stringify({ id: i, video: `copy${i}.mp4`, question: `Question ${i}?` });
    });
    const path = join(dir, 'many.jsonl');
    writeFileSync(path, many.join('\n'));
    return path;
  }

  it('answers an import of a file already importing with the job under way, and a later one with a new job', async () => {
    const s = studio();
    const path = manyRows(6);
    const first = await call<JobRef>(s, 'importDataset', { path });
    const second = await call<JobRef>(s, 'importDataset', { path });
    expect(second.jobId).toBe(first.jobId);
    expect((await finished(s, first.jobId)).state).toBe('done');
    const third = await call<JobRef>(s, 'importDataset', { path });
    expect(third.jobId).not.toBe(first.jobId);
    expect((await finished(s, third.jobId)).result).toMatchObject({ imported: 0, skipped: 6 });
  });

  it('cancels an import between rows, keeps what it stored, and resumes on the next run', async () => {
    const s = studio();
    const total = 16;
    const path = manyRows(total);

    const { jobId } = await call<JobRef>(s, 'importDataset', { path });
    let asked = false;
    const job = await finished(s, jobId, (j) => {
      if (!asked && j.phase === 'probing videos' && j.done >= 1) {
        asked = true;
        void call(s, 'cancelJob', { jobId });
      }
    });
    expect(job.state).toBe('cancelled');
    expect(job.error?.code).toBe('cancelled');
    const [cut] = await call<DatasetSummary[]>(s, 'listDatasets', {});
    expect(cut.status).toBe('importing');
    expect(cut.rowCount).toBeGreaterThan(0);
    expect(cut.rowCount).toBeLessThan(total);
    expect(await call(s, 'cancelJob', { jobId })).toEqual({ cancelled: false });

    const rerun = await call<JobRef>(s, 'importDataset', { path });
    const done = await finished(s, rerun.jobId);
    expect(done.result).toEqual({ datasetId: cut.id, imported: total - cut.rowCount, skipped: cut.rowCount, failed: 0 });
    const page = await call<DatasetRowsPage>(s, 'getDatasetRows', { datasetId: cut.id });
    expect(page.rows.map((r) => r.rowId)).toEqual(Array.from({ length: total }, (_, i) => String(i)));
    expect((await call<DatasetSummary[]>(s, 'listDatasets', {}))[0].status).toBe('ready');
    expect((await call<JobSnapshot[]>(s, 'listJobs', {})).map((j) => j.state)).toEqual(['cancelled', 'done']);
  });

  it('closes mid-import only after the job stopped, leaving a database that reopens and resumes', async () => {
    const dbPath = join(mkdtempSync(join(dir, 'db-')), 'studio.db');
    const total = 12;
    const path = manyRows(total);
    const first = openStudio({ dbPath, transport: 'http', engine: childProcessEngine() });
    const { jobId } = await call<JobRef>(first, 'importDataset', { path });
    const states: string[] = [];
    await new Promise<void>((resolve) => {
      first.jobs.onChange((j) => {
        if (j.id !== jobId) return;
        states.push(j.state);
        if (j.phase === 'probing videos' && j.done >= 1) resolve();
      });
    });
    await first.close();
    // The job had settled (as cancelled) before close() returned, so nothing wrote to a closed file.
    expect(states.at(-1)).toBe('cancelled');

    const again = openStudio({ dbPath, transport: 'http', engine: childProcessEngine() });
    open.push(again);
    const [cut] = await call<DatasetSummary[]>(again, 'listDatasets', {});
    const rerun = await call<JobRef>(again, 'importDataset', { path });
    const done = await finished(again, rerun.jobId);
    expect(done.result).toEqual({ datasetId: cut.id, imported: total - cut.rowCount, skipped: cut.rowCount, failed: 0 });
  });

  it('runs ISR-DPO as a job: settings checked first, progress, cancel leaves the run stopped, resume finishes it', async () => {
    const s = studio();
    const model = join(mkdtempSync(join(dir, 'model-')), 'tiny');
    writeFixture(model, { arch: 'idefics3', size: 'tiny', seed: 1, corpus: ['What colour?', 'red', 'blue'] });
    const data = join(dir, 'run.jsonl');
    writeFileSync(data, [{ id: 1, video: 'a.mp4', question: 'What colour?', answer: 'red' }, { id: 2, video: 'b.mp4', question: 'What colour?', answer: 'blue' }].map((r) => JSON.stringify(r)).join('\n'));
    const imported = await finished(s, (await call<JobRef>(s, 'importDataset', { path: data })).jobId);
    const { datasetId } = imported.result as ImportResult;
    const settings = { samples: 2, maxNewTokens: 4, contextTokens: 4, frames: 2, tieBand: [0.5, 0.5], train: { epochs: 1, batchSize: 2, loraR: 2, loraAlpha: 4 } };

    const bad = await dispatch(s.service, 'startRun', { model, datasetId, rounds: 1, settings: { ...settings, samples: 3 } });
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid_argument' } });
    expect(JSON.stringify(bad)).toContain('samples');
    expect(await call(s, 'listRuns', {})).toEqual([]);

    const started = await call<JobRef & { runId: number }>(s, 'startRun', { model, datasetId, rounds: 2, mode: 'isr', settings });
    let cancelled = false;
    const stopped = await finished(s, started.jobId, (j) => {
      if (!cancelled && j.phase === 'round 1: judging') {
        cancelled = true;
        void call(s, 'cancelJob', { jobId: started.jobId });
      }
    });
    expect(stopped.state).toBe('cancelled');
    expect((await call<RunSummary[]>(s, 'listRuns', {}))[0]).toMatchObject({ id: started.runId, status: 'stopped', roundsDone: 0 });

    const details: string[] = [];
    const resumed = await finished(s, (await call<JobRef>(s, 'resumeRun', { runId: started.runId })).jobId, (j) => j.phase.endsWith('training') && j.detail && details.push(j.detail));
    expect(resumed.state).toBe('done');
    expect((resumed.result as RunResult).rounds.map((r) => r.round)).toEqual([1, 2]);
    // The latest training step's figures travel with the job's progress.
    expect(details.length).toBeGreaterThan(0);
    expect(details[0]).toMatch(/^loss \d\.\d{4}, rewards\/accuracies \d\.\d{2}, rewards\/margins -?\d\.\d{4}$/);
    expect((await call<RunSummary[]>(s, 'listRuns', {}))[0]).toMatchObject({ status: 'done', roundsDone: 2, roundsPlanned: 2 });

    // Review: the queue pages the run's pairs; an override is saved at once and shown as such.
    const queue = await call<PairsPage>(s, 'listPairs', { runId: started.runId, sort: 'confidence' });
    expect(queue.total).toBe(4);
    const overridden = await call<PairSummary>(s, 'setOverride', { pairId: queue.pairs[0].id, choice: 'tie' });
    expect(overridden).toMatchObject({ id: queue.pairs[0].id, override: 'tie', judgeChoice: queue.pairs[0].judgeChoice });
    expect((await call<PairsPage>(s, 'listPairs', { runId: started.runId, overridden: true })).pairs.map((p) => p.id)).toEqual([queue.pairs[0].id]);
    expect(await dispatch(s.service, 'setOverride', { pairId: 99999, choice: 'a' })).toMatchObject({ ok: false, error: { code: 'not_found' } });

    // A round-2 pair in full: the frames the judge saw (served as images), both verdicts with their
    // attention maps, and the context chain c0 -> c1.
    const [late] = (await call<PairsPage>(s, 'listPairs', { runId: started.runId, round: 2 })).pairs;
    const detail = await call<PairDetail>(s, 'getPair', { pairId: late.id });
    expect(detail.frames).toHaveLength(2);
    for (const key of detail.frames) expect(await s.resolveMedia(key)).toMatch(/\.jpg$/);
    expect(detail.verdicts.map((v) => v.shownFirst).sort()).toEqual(['a', 'b']);
    for (const v of detail.verdicts) expect(v.attention!.values).toHaveLength(v.attention!.frames * v.attention!.rows * v.attention!.cols);
    expect(detail.contexts).toHaveLength(2);
    expect(detail.responses.a.tokens).toBeGreaterThan(0);

    // History: per-round figures and DPO steps of the run; a round's pairs as TRL JSONL.
    const [history] = await call<RunHistory[]>(s, 'getHistory', {});
    expect(history.rounds.map((r) => r.round)).toEqual([1, 2]);
    expect(history.rounds[0].visualShare).toBeGreaterThan(0);
    expect(history.steps.length).toBeGreaterThan(0);
    expect(Object.keys(history.steps[0].metrics)).toEqual(expect.arrayContaining(['loss', 'rewards/margins', 'rewards/accuracies']));
    const exported = await call<{ fileName: string; jsonl: string; rows: number }>(s, 'exportPairs', { runId: started.runId, round: 1 });
    expect(exported.fileName).toBe(`run-${started.runId}-round-1-pairs.jsonl`);
    expect(exported.jsonl.trim().split('\n').map((l) => Object.keys(JSON.parse(l) as object).sort())).toEqual(Array(exported.rows).fill(['chosen', 'pair_id', 'prompt', 'rejected', 'video']));
  }, 60_000);

  it('stops each round for review before training, trains it on people\'s verdicts when resumed, and measures the judge against them', async () => {
    const s = studio();
    const model = join(mkdtempSync(join(dir, 'model-')), 'tiny');
    writeFixture(model, { arch: 'idefics3', size: 'tiny', seed: 3, corpus: ['What colour?', 'red', 'blue'] });
    const data = join(dir, 'review.jsonl');
    writeFileSync(data, [{ id: 1, video: 'a.mp4', question: 'What colour?', answer: 'red' }, { id: 2, video: 'b.mp4', question: 'What colour?', answer: 'blue' }].map((r) => JSON.stringify(r)).join('\n'));
    const { datasetId } = (await finished(s, (await call<JobRef>(s, 'importDataset', { path: data })).jobId)).result as ImportResult;
    const settings = { review: 'before-training', samples: 4, maxNewTokens: 4, contextTokens: 4, frames: 2, tieBand: [0.5, 0.5], train: { epochs: 1, batchSize: 2, loraR: 2, loraAlpha: 4 } };
    const started = await call<JobRef & { runId: number }>(s, 'startRun', { model, datasetId, rounds: 2, mode: 'isr', settings });
    const first = await finished(s, started.jobId);
    expect(first.state).toBe('done');
    expect(first.result).toMatchObject({ runId: started.runId, rounds: [], awaitingReview: 1 });
    expect((await call<RunSummary[]>(s, 'listRuns', {}))[0]).toMatchObject({ status: 'review', reviewRound: 1, roundsDone: 0, model });
    // The overall progress of the run travelled with the job.
    expect(first.overall?.label).toMatch(/^round 1 of 2: /);

    const queue = (await call<PairsPage>(s, 'listPairs', { runId: started.runId, round: 1 })).pairs;
    expect(queue).toHaveLength(4);
    expect(await call(s, 'getReviewProgress', { runId: started.runId, round: 1 })).toEqual({ reviewed: 0, total: 4, budget: null });
    const [reversed, dropped, kept] = queue;
    await call(s, 'setOverride', { pairId: reversed.id, choice: reversed.judgeChoice === 'a' ? 'b' : 'a' });
    await call(s, 'setOverride', { pairId: dropped.id, choice: 'both-bad' });
    expect(await call(s, 'setOverrides', { pairIds: [kept.id], choice: 'judge' })).toEqual({ updated: 1 });
    expect(await call(s, 'setReviewBudget', { runId: started.runId, round: 1, budget: 3 })).toEqual({ reviewed: 3, total: 4, budget: 3 });
    const { agreement } = await call<{ agreement: { n: number; agreed: number; kappa: number | null } }>(s, 'getAgreement', { runId: started.runId, round: 1 });
    expect(agreement).toMatchObject({ n: 3, agreed: 1 });

    // "Train round 1": resuming trains on the verdicts, then round 2 stops for review in turn.
    const second = await finished(s, (await call<JobRef>(s, 'resumeRun', { runId: started.runId })).jobId);
    expect(second.result).toMatchObject({ awaitingReview: 2 });
    expect((second.result as RunResult).rounds.map((r) => [r.round, r.pairs, r.dropped])).toEqual([[1, 3, 1]]);
    expect((await call<RunSummary[]>(s, 'listRuns', {}))[0]).toMatchObject({ status: 'review', reviewRound: 2, roundsDone: 1 });
    // What round 1 trained on, as the database recorded it: the reversed pair swapped, the dropped one absent.
    const { openDatabase } = await import('../store/db');
    const db = openDatabase(JSON.parse(JSON.stringify((await call<{ dbPath: string }>(s, 'appInfo', {})).dbPath)) as string);
    try {
      const trained = db.prepare(
        `SELECT t.pair_id AS pairId, t.chosen_response_id = p.response_a_id AS chosenIsA FROM trained_pairs t JOIN pairs p ON p.id = t.pair_id
         JOIN rounds r ON r.id = t.round_id WHERE r.round = 1 ORDER BY t.pair_id`,
      ).all() as { pairId: number; chosenIsA: number }[];
      expect(trained.map((t) => t.pairId).sort()).toEqual([reversed.id, kept.id, queue[3].id].sort());
      expect(trained.find((t) => t.pairId === reversed.id)!.chosenIsA === 1).toBe(reversed.judgeChoice === 'b');
      expect(trained.find((t) => t.pairId === kept.id)!.chosenIsA === 1).toBe(kept.judgeChoice === 'a');
    } finally {
      db.close();
    }
    // The model round 1 trained is one the studio now offers to start from.
    const models = await call<{ path: string; origin: { kind: string; round?: number } }[]>(s, 'listModels', {});
    expect(models.map((m) => m.origin)).toEqual([{ kind: 'round', runId: started.runId, round: 1 }, { kind: 'start' }]);
    const exported = await call<{ jsonl: string; rows: number }>(s, 'exportPairs', { runId: started.runId, round: 1 });
    expect(exported.rows).toBe(3);
    expect(exported.jsonl).not.toContain(`"pair_id":${dropped.id}}`);
  }, 90_000);

  it('checks a model folder before a run, and manages datasets: rename, delete unless a run uses them, none made from a file without a good row', async () => {
    const s = studio();
    const model = join(mkdtempSync(join(dir, 'model-')), 'tiny');
    writeFixture(model, { arch: 'llava-onevision', size: 'tiny', seed: 1, corpus: ['What colour?'] });
    expect(await call(s, 'checkModel', { path: model })).toEqual({ path: model, family: 'llava-onevision' });
    const missing = await dispatch(s.service, 'checkModel', { path: join(dir, 'nowhere') });
    expect(missing).toMatchObject({ ok: false, error: { code: 'bad_input' } });
    expect(JSON.stringify(missing)).toContain('nowhere');

    const bad = join(dir, 'all-bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ id: 1, video: 'missing.mp4', question: 'q' })}\n{"id": 2}\n`);
    const failed = await finished(s, (await call<JobRef>(s, 'importDataset', { path: bad })).jobId);
    expect(failed.state).toBe('failed');
    expect(failed.error?.message).toMatch(/all-bad\.jsonl: no row could be imported \(2 rejected\): line 1: video file not found/);
    expect(await call(s, 'listDatasets', {})).toEqual([]);

    const good = join(dir, 'good.jsonl');
    writeFileSync(good, JSON.stringify({ id: 1, video: 'a.mp4', question: 'What colour?' }));
    const { datasetId } = (await finished(s, (await call<JobRef>(s, 'importDataset', { path: good })).jobId)).result as ImportResult;
    expect(await call(s, 'renameDataset', { datasetId, name: 'colours' })).toMatchObject({ id: datasetId, name: 'colours' });
    const run = await call<JobRef>(s, 'startRun', { model, datasetId, rounds: 1, settings: { samples: 2, maxNewTokens: 2, frames: 1 } });
    await call(s, 'cancelJob', { jobId: run.jobId });
    expect(await dispatch(s.service, 'deleteDataset', { datasetId })).toMatchObject({ ok: false, error: { code: 'bad_input', message: 'dataset "colours" is used by run 1: it cannot be deleted while a run uses it' } });
    const other = join(dir, 'other.jsonl');
    writeFileSync(other, JSON.stringify({ id: 1, video: 'b.mp4', question: 'Which?' }));
    const second = ((await finished(s, (await call<JobRef>(s, 'importDataset', { path: other })).jobId)).result as ImportResult).datasetId;
    expect(await call(s, 'deleteDataset', { datasetId: second })).toEqual({ deleted: true });
    expect((await call<DatasetSummary[]>(s, 'listDatasets', {})).map((d) => d.name)).toEqual(['colours']);
  }, 60_000);

  it('resolves only media keys it made: no paths, no traversal, no missing files', async () => {
    const s = studio();
    for (const key of ['../studio.db', 'thumb/../../etc/passwd', 'thumb/0', 'thumb/1/../1', '/etc/passwd', 'thumb/999', 'thumb/01', 'video/1', 'video/../1', 'video/x', 'frame/1/8/0', 'frame/1/8/99']) {
      expect(await s.resolveMedia(key), key).toBeNull();
    }
  });

  it('reports its version, database, transport and ffmpeg', async () => {
    const s = studio();
    const info = await call<{ version: string; dbPath: string; transport: string; ffmpeg: unknown }>(s, 'appInfo', {});
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(info.version).toBe(pkg.version);
    expect(info.dbPath).toMatch(/studio\.db$/);
    expect(info.transport).toBe('http');
    expect(info.ffmpeg).toEqual({ path: ffmpeg, source: ffmpegSource });
  });
});
