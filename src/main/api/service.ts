// The studio behind every entry point: opens the database, implements the contract on top of
// store and video, and runs long work as jobs.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { version } from '../../../package.json';
import type { StudioService } from '../../shared/contract';
import { ApiError, toErrorShape } from '../../shared/errors';
import type { AppInfo, DatasetRow, KnownModel, MediaKey, RunResult, RunSummary } from '../../shared/types';
import { VideoLanguageModel } from '../engine/model/vlm';
import { agreementOf } from '../isr/agreement';
import { createRunRecord, releaseReview } from '../isr/run';
import { summarise } from '../isr/round-summary';
import { deleteDataset, getDataset, listDatasets, renameDataset, runsUsing } from '../store/datasets';
import { openDatabase } from '../store/db';
import { listIssues } from '../store/import-issues';
import { countPrompts, pagePrompts } from '../store/prompts';
import { addOverride, addOverrides, pairPlace, pairRow, queryPairs, reviewedPairs, reviewProgress, setReviewBudget } from '../store/review';
import { contextChain, getRun, knownModels, listRuns, modelPath, pairJudgments, pairResponses, roundsOf, setRunStatus, trainStepsOf, type RunRecord } from '../store/rounds';
import { toJsonl, trlDpoRows } from '../isr/export';
import { getVideo } from '../store/videos';
import { uniformFrameTimes } from '../video/frames';
import { frameImage } from '../video/thumbnail';
import { parseRunSettings } from '../isr/settings';
import { resolveFfmpeg, type Ffmpeg } from '../video/ffmpeg';
import { defaultDatasetName, importDataset } from './import-dataset';
import { JobRegistry } from './jobs';
import type { Studio, StudioOptions } from './studio';

const thumbnailKey = /^thumb\/([1-9]\d{0,15})$/;
const frameKey = /^frame\/([1-9]\d{0,15})\/([1-9]\d?)\/(\d{1,2})$/;
const videoKey = /^video\/([1-9]\d{0,15})$/;
// The frames Review shows, as wide as they are enlarged to.
const frameWidth = 640;

export function openStudio(options: StudioOptions): Studio {
  const dbPath = resolve(options.dbPath);
  const cacheDir = resolve(options.cacheDir ?? `${dbPath}.cache`);
  const db = openDatabase(dbPath);
  const jobs = new JobRegistry();
  const thumbnailPath = (videoId: number) => join(cacheDir, 'thumbs', `${videoId}.jpg`);
  const framePath = (videoId: number, count: number, index: number) => join(cacheDir, 'frame-images', `${videoId}-${count}-${index}-w${frameWidth}.jpg`);
  // Resolved once per studio, on first need; a failure is not cached, so installing ffmpeg
  // while the studio runs is picked up by the next call.
  let ffmpeg: Promise<Ffmpeg> | null = null;
  const findFfmpeg = () => {
    ffmpeg ??= resolveFfmpeg().catch((err: unknown) => {
      ffmpeg = null;
      throw err;
    });
    return ffmpeg;
  };
  const importing = new Map<string, string>();

  const dataset = (id: number) => {
    const found = getDataset(db, id);
    if (!found) throw new ApiError('not_found', `no dataset with id ${id}`);
    return found;
  };

  const runSummary = (r: RunRecord): RunSummary => {
    const rounds = roundsOf(db, r.id);
    const reviewRound = rounds.find((x) => x.review === 'awaiting')?.round ?? null;
    return {
      id: r.id, mode: r.mode, status: reviewRound !== null && r.status === 'stopped' ? 'review' : r.status, reviewRound, error: r.error,
      model: modelPath(db, r.startModelId), datasetId: r.datasetId, evalDatasetId: r.evalDatasetId,
      roundsPlanned: r.roundsPlanned, roundsDone: rounds.filter((x) => x.round > 0 && x.phase === 'done').length, createdAt: r.createdAt,
    };
  };

  const runOf = (runId: number) => {
    const run = getRun(db, runId);
    if (!run) throw new ApiError('not_found', `no run with id ${runId}`);
    return run;
  };
  const roundOf = (runId: number, round: number) => {
    runOf(runId);
    const found = roundsOf(db, runId).find((r) => r.round === round);
    if (!found) throw new ApiError('not_found', `run ${runId} has no round ${round}`);
    return found;
  };

  // A run is one job, computed in an engine process of its own (engine-host/): this process only
  // relays its progress, so the studio answers while it computes and outlives its crashes.
  const running = new Set<number>();
  const startRunJob = (runId: number) => {
    running.add(runId);
    const title = `ISR-DPO run ${runId}`;
    return jobs.start('run', title, async (ctx): Promise<RunResult> => {
      try {
        const input = { runId, dbPath, ffmpeg: (await findFfmpeg()).path, cacheDir, runsDir: `${dbPath}.runs` };
        return await options.engine.run('run', input, ctx, title);
      } catch (err) {
        // A dead engine could not record its own end; the run stays resumable from what it stored.
        if (err instanceof ApiError && err.code === 'engine_failed') setRunStatus(db, runId, 'failed', err.message);
        throw err;
      } finally {
        running.delete(runId);
      }
    }, { runId });
  };

  // Frame `index` of `count` sampled from a video, extracted on first request (once, however many ask).
  const extracting = new Map<string, Promise<string | null>>();
  const frameFile = (videoId: number, count: number, index: number): Promise<string | null> => {
    const file = framePath(videoId, count, index);
    if (existsSync(file)) return Promise.resolve(file);
    const video = getVideo(db, videoId);
    const times = video === null ? [] : uniformFrameTimes(video, count);
    if (video === null || index >= times.length) return Promise.resolve(null);
    let pending = extracting.get(file);
    if (pending === undefined) {
      pending = findFfmpeg()
        .then((f) => frameImage(f.path, video.path, times[index], file, frameWidth))
        .then(() => file, () => null)
        .finally(() => extracting.delete(file));
      extracting.set(file, pending);
    }
    return pending;
  };

  const service: StudioService = {
    async appInfo(): Promise<AppInfo> {
      const found = await findFfmpeg().then(
        (f) => ({ path: f.path, source: f.source }),
        (err: unknown) => ({ error: toErrorShape(err).message }),
      );
      return { version, dbPath, transport: options.transport, ffmpeg: found };
    },

    async listDatasets() {
      return listDatasets(db);
    },

    async getDatasetRows({ datasetId, offset, limit }) {
      dataset(datasetId);
      const rows: DatasetRow[] = pagePrompts(db, datasetId, offset, limit).map((p) => ({
        ...p,
        video: { ...p.video, thumbnail: existsSync(thumbnailPath(p.video.id)) ? `thumb/${p.video.id}` : null },
      }));
      return { total: countPrompts(db, datasetId), offset, rows };
    },

    async getImportIssues({ datasetId }) {
      dataset(datasetId);
      return listIssues(db, datasetId);
    },

    async renameDataset({ datasetId, name }) {
      const current = dataset(datasetId);
      const clash = listDatasets(db).find((d) => d.id !== datasetId && d.name === name && d.sourcePath === current.sourcePath);
      if (clash) throw new ApiError('bad_input', `dataset ${clash.id} already has the name "${name}" for ${current.sourcePath}`);
      renameDataset(db, datasetId, name);
      return dataset(datasetId);
    },

    async deleteDataset({ datasetId }) {
      const found = dataset(datasetId);
      const runs = runsUsing(db, datasetId);
      if (runs.length > 0) throw new ApiError('bad_input', `dataset "${found.name}" is used by run${runs.length === 1 ? '' : 's'} ${runs.join(', ')}: it cannot be deleted while a run uses it`);
      if (found.status === 'importing' && [...importing.keys()].some((key) => key.endsWith(`\n${found.sourcePath}`))) {
        throw new ApiError('bad_input', `dataset "${found.name}" is being imported: cancel the import first`);
      }
      deleteDataset(db, datasetId);
      return { deleted: true as const };
    },

    async listModels(): Promise<KnownModel[]> {
      return knownModels(db).map((m) => ({
        path: m.path, family: m.family, createdAt: m.createdAt,
        origin: m.runId === null || m.round === null ? { kind: 'start' as const } : { kind: 'round' as const, runId: m.runId, round: m.round },
      }));
    },

    async checkModel({ path }) {
      const folder = resolve(path);
      try {
        return { path: folder, family: VideoLanguageModel.check(folder).arch };
      } catch (err) {
        throw new ApiError('bad_input', toErrorShape(err).message);
      }
    },

    async importDataset({ path, name }) {
      const source = resolve(path);
      const key = `${name ?? defaultDatasetName(source)}\n${source}`;
      // The same file asked for again while it imports: the caller follows the import under way.
      const running = importing.get(key);
      if (running !== undefined) return { jobId: running };
      const deps = { db, thumbnailPath, ffmpeg: async () => (await findFfmpeg()).path };
      const jobId = jobs.start('import', `Import ${name ?? defaultDatasetName(source)}`, (ctx) =>
        importDataset(deps, { path: source, name }, ctx).finally(() => importing.delete(key)),
      );
      importing.set(key, jobId);
      return { jobId };
    },

    async listRuns() {
      return listRuns(db).map(runSummary);
    },

    async getHistory() {
      return listRuns(db).map((r) => {
        const settings = parseRunSettings(r.settings);
        const rounds = roundsOf(db, r.id);
        return {
          run: runSummary(r),
          rounds: rounds.filter((x) => x.phase === 'done').map((x) => summarise(db, x, settings)),
          steps: rounds.flatMap((x) => trainStepsOf(db, x.id).map((s) => ({ round: x.round, step: s.step, metrics: s.metrics }))),
        };
      });
    },

    async exportPairs({ runId, round }) {
      const rows = trlDpoRows(db, runId, round);
      if (rows.length === 0) throw new ApiError('bad_input', `round ${round} of run ${runId} has no pair to train on: every pair is a tie or both bad (or none was made yet)`);
      return { fileName: `run-${runId}-round-${round}-pairs.jsonl`, jsonl: toJsonl(rows), rows: rows.length };
    },

    async startRun({ model, datasetId, evalDatasetId, rounds, mode, settings }) {
      dataset(datasetId);
      if (evalDatasetId !== null) dataset(evalDatasetId);
      const runId = await createRunRecord(db, { model: resolve(model), mode, datasetId, evalDatasetId, rounds, settings });
      return { jobId: startRunJob(runId), runId };
    },

    async resumeRun({ runId }) {
      runOf(runId);
      if (running.has(runId)) throw new ApiError('bad_input', `run ${runId} is already running`);
      // Resuming a run that stopped for review is what "Train round N" means.
      releaseReview(db, runId);
      return { jobId: startRunJob(runId) };
    },

    async listPairs(query) {
      runOf(query.runId);
      return queryPairs(db, query);
    },

    async getPair({ pairId }) {
      const row = pairRow(db, pairId);
      if (!row) throw new ApiError('not_found', `no pair with id ${pairId}`);
      const pair = pairPlace(db, pairId)!;
      const responses = pairResponses(db, pair.responseAId, pair.responseBId);
      const verdicts = pairJudgments(db, pair.responseAId, pair.responseBId);
      const contextId = verdicts.find((v) => v.contextId !== null)?.contextId ?? null;
      const frameCount = parseRunSettings(JSON.parse(pair.settings)).frames;
      const video = getVideo(db, pair.videoId)!;
      const times = uniformFrameTimes(video, frameCount);
      const response = (id: number) => ({ text: responses.get(id)!.text, tokens: responses.get(id)!.tokenCount });
      return {
        ...row,
        frames: times.map((_, i) => `frame/${video.id}/${frameCount}/${i}`),
        frameTimesS: times,
        video: `video/${video.id}`,
        reference: pair.reference,
        responses: { a: response(pair.responseAId), b: response(pair.responseBId) },
        verdicts: verdicts.map((v) => ({
          shownFirst: v.shownFirst, pFirst: v.pFirst, visualShare: v.visualShare,
          attention: v.attention && { frames: v.attention.frames, rows: v.attention.rows, cols: v.attention.cols, values: Array.from(v.attention.data) },
        })),
        contexts: contextId === null ? [] : contextChain(db, contextId).map((c) => c.text),
      };
    },

    async setOverride({ pairId, choice }) {
      if (!pairRow(db, pairId)) throw new ApiError('not_found', `no pair with id ${pairId}`);
      addOverride(db, pairId, choice);
      return pairRow(db, pairId)!;
    },

    async setOverrides({ pairIds, choice }) {
      const missing = pairIds.find((id) => !pairPlace(db, id));
      if (missing !== undefined) throw new ApiError('not_found', `no pair with id ${missing}`);
      return { updated: addOverrides(db, pairIds, choice) };
    },

    async getAgreement({ runId, round }) {
      if (round === undefined) runOf(runId);
      else roundOf(runId, round);
      return { agreement: agreementOf(reviewedPairs(db, runId, round)) };
    },

    async getReviewProgress({ runId, round }) {
      return reviewProgress(db, roundOf(runId, round).id);
    },

    async setReviewBudget({ runId, round, budget }) {
      const found = roundOf(runId, round);
      setReviewBudget(db, found.id, budget);
      return reviewProgress(db, found.id);
    },

    async listJobs() {
      return jobs.list();
    },

    async cancelJob({ jobId }) {
      if (!jobs.get(jobId)) throw new ApiError('not_found', `no job with id ${jobId}`);
      return { cancelled: jobs.cancel(jobId) };
    },
  };

  return {
    service,
    jobs,
    async resolveMedia(key: MediaKey): Promise<string | null> {
      // Only keys this studio hands out: a number, never a path, so nothing outside the cache is reachable.
      const thumb = thumbnailKey.exec(key);
      const frame = frameKey.exec(key);
      const video = videoKey.exec(key);
      if (frame) return frameFile(Number(frame[1]), Number(frame[2]), Number(frame[3]));
      // A video is served from where the dataset said it is, and only one the database knows.
      const file = thumb ? thumbnailPath(Number(thumb[1])) : video ? (getVideo(db, Number(video[1]))?.path ?? null) : null;
      return file !== null && existsSync(file) ? file : null;
    },
    async close() {
      // A running import may be mid-batch and an engine mid-step: let each stop at its next check
      // (an engine that does not is killed after a grace period) before the file closes.
      await Promise.all([options.engine.close(), jobs.cancelAll()]);
      db.close();
    },
  };
}

