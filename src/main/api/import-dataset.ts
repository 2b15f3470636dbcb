// Importing a dataset file: read and validate every row, probe each video once, make its
// thumbnail, and store the good rows batch by batch. Resumable: see docs/data.md.
import { existsSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { ApiError, fileProblem, oneLine } from '../../shared/errors';
import { maxFrames } from '../../shared/run-settings';
import type { ImportIssue, ImportResult } from '../../shared/types';
import { beginImport, deleteDataset, markReady } from '../store/datasets';
import type { Db } from '../store/db';
import { insertIssues, listIssues } from '../store/import-issues';
import { countPrompts, insertPrompts, rowKey, storedRows, type NewPrompt } from '../store/prompts';
import { findVideoByPath, upsertVideo } from '../store/videos';
import { probeVideo } from '../video/probe';
import { uniformFrameTimes } from '../video/frames';
import { decodesAt, makeThumbnail } from '../video/thumbnail';
import { readDatasetFile } from './dataset-file';
import { validateRow } from './dataset-row';

/** Rows stored per transaction: small enough that a crash loses little work, large enough that
 *  commits do not dominate. */
export const importBatchSize = 32;

export interface ImportContext {
  progress(phase: string, done: number, total: number): void;
  throwIfCancelled(): void;
}

export interface ImportDeps {
  db: Db;
  ffmpeg: () => Promise<string>;
  thumbnailPath: (videoId: number) => string;
}

/** The name a dataset gets when none is given: the file name without its extension. */
export function defaultDatasetName(path: string): string {
  return basename(path, extname(path));
}

export async function importDataset(
  deps: ImportDeps,
  input: { path: string; name?: string },
  ctx: ImportContext,
): Promise<ImportResult> {
  const source = resolve(input.path);
  ctx.progress('reading', 0, 1);
  // Everything that can make the whole import impossible is checked before anything is written.
  const rows = await readDatasetFile(source).catch((err: unknown) => {
    throw err instanceof ApiError ? new ApiError(err.code, oneLine(err.message), err.details) : err;
  });
  const ffmpeg = await deps.ffmpeg();
  const { db } = deps;
  const datasetId = beginImport(db, input.name ?? defaultDatasetName(source), source);
  const stored = storedRows(db, datasetId);
  const videos = new VideoResolver(deps, ffmpeg, dirname(source));

  const result: ImportResult = { datasetId, imported: 0, skipped: 0, failed: 0 };
  let prompts: NewPrompt[] = [];
  let issues: ImportIssue[] = [];
  const flush = () => {
    if (prompts.length === 0 && issues.length === 0) return;
    const [p, i] = [prompts, issues];
    db.transaction(() => {
      insertPrompts(db, p);
      insertIssues(db, datasetId, i);
    })();
    result.imported += p.length;
    result.failed += i.length;
    prompts = [];
    issues = [];
  };

  const firstPlaceOfId = new Map<string, string>();
  const throttle = progressThrottle(ctx, 'probing videos', rows.length);
  try {
    for (const [index, fileRow] of rows.entries()) {
      ctx.throwIfCancelled();
      throttle(index);
      const issue = await (async (): Promise<ImportIssue | null> => {
        if ('issue' in fileRow) return fileRow.issue;
        const checked = validateRow(fileRow.value, fileRow);
        if ('issue' in checked) return checked.issue;
        const { row } = checked;
        const { line, lineIndex, place } = fileRow;
        const earlier = firstPlaceOfId.get(row.rowId);
        if (earlier !== undefined) {
          return { line, rowId: row.rowId, field: 'id', message: `${place}: id "${row.rowId}" is already used on ${earlier}` };
        }
        firstPlaceOfId.set(row.rowId, place);
        if (stored.has(rowKey(line, lineIndex))) {
          result.skipped++;
          return null;
        }
        const video = await videos.resolve(row.video);
        if ('error' in video) return { line, rowId: row.rowId, field: 'video', message: `${place}: ${video.error}` };
        prompts.push({ datasetId, videoId: video.id, line, lineIndex, ...row });
        return null;
      })();
      // Paths, ids and keys come from the file: any character they hold is shown, none breaks the line.
      if (issue) issues.push({ ...issue, message: oneLine(issue.message) });
      if (prompts.length + issues.length >= importBatchSize) flush();
    }
  } finally {
    // Cancelled or not, what was read so far is kept: a re-run resumes after it.
    flush();
  }
  if (countPrompts(db, datasetId) === 0) {
    // Nothing to train on or evaluate: no dataset is made (an earlier import's dataset has rows, so it is never this one).
    const reasons = listIssues(db, datasetId).slice(0, 3).map((i) => i.message);
    deleteDataset(db, datasetId);
    const more = result.failed > reasons.length ? `; and ${result.failed - reasons.length} more` : '';
    throw new ApiError('bad_input', oneLine(`${source}: no row could be imported${result.failed > 0 ? ` (${result.failed} rejected): ${reasons.join('; ')}${more}` : ': the file has no rows'}`));
  }
  markReady(db, datasetId);
  ctx.progress('probing videos', rows.length, rows.length);
  return result;
}

/** Progress for every row would flood the transports on large files; a few per second is plenty. */
function progressThrottle(ctx: ImportContext, phase: string, total: number): (done: number) => void {
  let last = 0;
  return (done) => {
    const now = Date.now();
    if (done === 0 || now - last >= 100) {
      last = now;
      ctx.progress(phase, done, total);
    }
  };
}

/** Maps a row's video path to a stored video, probing each file at most once per import. */
class VideoResolver {
  private readonly seen = new Map<string, { id: number } | { error: string }>();

  constructor(
    private readonly deps: ImportDeps,
    private readonly ffmpeg: string,
    private readonly baseDir: string,
  ) {}

  async resolve(video: string): Promise<{ id: number } | { error: string }> {
    const path = resolve(this.baseDir, video);
    let found = this.seen.get(path);
    if (!found) {
      found = await this.load(path);
      this.seen.set(path, found);
    }
    return found;
  }

  private async load(path: string): Promise<{ id: number } | { error: string }> {
    const known = findVideoByPath(this.deps.db, path);
    if (known && existsSync(this.deps.thumbnailPath(known.id))) return { id: known.id };
    let info: Stats | undefined;
    try {
      info = statSync(path, { throwIfNoEntry: false });
    } catch (err) {
      return { error: fileProblem(err, 'video file', path) };
    }
    if (!info) return { error: `video file not found: ${path}` };
    if (!info.isFile()) return { error: `video path is not a file: ${path}` };
    if (info.size === 0) return { error: `video file is empty (0 bytes): ${path}` };
    try {
      const probe = known ?? (await probeVideo(this.ffmpeg, path));
      // A file cut short can keep a header that promises the rest: the frames a round samples last must decode.
      const last = uniformFrameTimes(probe, maxFrames).at(-1)!;
      if (!(await decodesAt(this.ffmpeg, path, last))) {
        return { error: `video ${path} cannot be decoded to its end (no frame at ${last.toFixed(2)} s of the ${probe.durationS.toFixed(2)} s its header gives): the file is cut short, or its duration field is wrong` };
      }
      const stored = known ?? upsertVideo(this.deps.db, { path, ...probe });
      await makeThumbnail(this.ffmpeg, path, stored.durationS, this.deps.thumbnailPath(stored.id));
      return { id: stored.id };
    } catch (err) {
      if (err instanceof ApiError && err.code === 'bad_input') return { error: err.message };
      throw err;
    }
  }
}

