// The studio behind every entry point: opens the database, implements the contract on top of
// store and video, and runs long work as jobs.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { version } from '../../../package.json';
import type { StudioService } from '../../shared/contract';
import { ApiError, toErrorShape } from '../../shared/errors';
import type { AppInfo, DatasetRow, MediaKey, RunResult, RunSummary } from '../../shared/types';
import { createRunRecord } from '../isr/run';
import { summarise } from '../isr/round-summary';
import { getDataset, listDatasets } from '../store/datasets';
import { openDatabase } from '../store/db';
import { listIssues } from '../store/import-issues';
import { countPrompts, pagePrompts } from '../store/prompts';
import { addOverride, contextChain, getRun, setRunStatus, judgmentsOf, listRuns, pairPlace, pairRow, queryPairs, responsesOf, roundsOf, trainStepsOf, type RunRecord } from '../store/rounds';
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

export function openStudio(options: StudioOptions): Studio {
  const dbPath = resolve(options.dbPath);
  const cacheDir = resolve(options.cacheDir ?? `${dbPath}.cache`);
  const db = openDatabase(dbPath);
  const jobs = new JobRegistry();
  const thumbnailPath = (videoId: number) => join(cacheDir, 'thumbs', `${videoId}.jpg`);
  const framePath = (videoId: number, count: number, index: number) => join(cacheDir, 'frame-images', `${videoId}-${count}-${index}.jpg`);
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
  const importing = new Set<string>();

  const dataset = (id: number) => {
    const found = getDataset(db, id);
    if (!found) throw new ApiError('not_found', `no dataset with id ${id}`);
    return found;
  };

  const runSummary = (r: RunRecord): RunSummary => ({
    id: r.id, mode: r.mode, status: r.status, error: r.error, datasetId: r.datasetId, evalDatasetId: r.evalDatasetId,
    roundsPlanned: r.roundsPlanned, roundsDone: roundsOf(db, r.id).filter((x) => x.round > 0 && x.phase === 'done').length, createdAt: r.createdAt,
  });

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
    });
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

    async importDataset({ path, name }) {
      const source = resolve(path);
      const key = `${name ?? defaultDatasetName(source)}\n${source}`;
      if (importing.has(key)) throw new ApiError('bad_input', `${source} is already being imported`);
      importing.add(key);
      const deps = { db, thumbnailPath, ffmpeg: async () => (await findFfmpeg()).path };
      const jobId = jobs.start('import', `Import ${name ?? defaultDatasetName(source)}`, (ctx) =>
        importDataset(deps, { path: source, name }, ctx).finally(() => importing.delete(key)),
      );
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
      return { fileName: `run-${runId}-round-${round}-pairs.jsonl`, jsonl: toJsonl(rows), rows: rows.length };
    },

    async startRun({ model, datasetId, evalDatasetId, rounds, mode, settings }) {
      dataset(datasetId);
      if (evalDatasetId !== null) dataset(evalDatasetId);
      const runId = await createRunRecord(db, { model: resolve(model), mode, datasetId, evalDatasetId, rounds, settings });
      return { jobId: startRunJob(runId), runId };
    },

    async resumeRun({ runId }) {
      const run = getRun(db, runId);
      if (!run) throw new ApiError('not_found', `no run with id ${runId}`);
      if (running.has(runId)) throw new ApiError('bad_input', `run ${runId} is already running`);
      return { jobId: startRunJob(runId) };
    },

    async listPairs(query) {
      if (!getRun(db, query.runId)) throw new ApiError('not_found', `no run with id ${query.runId}`);
      return queryPairs(db, query);
    },

    async getPair({ pairId }) {
      const row = pairRow(db, pairId);
      if (!row) throw new ApiError('not_found', `no pair with id ${pairId}`);
      const pair = pairPlace(db, pairId)!;
      const responses = new Map(responsesOf(db, pair.roundId).map((r) => [r.id, r]));
      const verdicts = judgmentsOf(db, pair.roundId).filter((j) => j.responseAId === pair.responseAId && j.responseBId === pair.responseBId);
      const contextId = verdicts.find((v) => v.contextId !== null)?.contextId ?? null;
      const frameCount = parseRunSettings(getRun(db, pair.runId)!.settings).frames;
      const video = getVideo(db, pair.videoId)!;
      const times = uniformFrameTimes(video, frameCount);
      for (const [i, t] of times.entries()) {
        const file = framePath(video.id, frameCount, i);
        if (!existsSync(file)) await frameImage((await findFfmpeg()).path, video.path, t, file, 240);
      }
      const response = (id: number) => ({ text: responses.get(id)!.text, tokens: responses.get(id)!.tokenCount });
      return {
        ...row,
        frames: times.map((_, i) => `frame/${video.id}/${frameCount}/${i}`),
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
    resolveMedia(key: MediaKey): string | null {
      // Only keys this studio hands out: a number, never a path, so nothing outside the cache is reachable.
      const thumb = thumbnailKey.exec(key);
      const frame = frameKey.exec(key);
      const file = thumb ? thumbnailPath(Number(thumb[1])) : frame ? framePath(Number(frame[1]), Number(frame[2]), Number(frame[3])) : null;
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

