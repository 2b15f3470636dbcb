// Training a model folder outside a round (`isr-studio train`), from a TRL-style preference file
// ({prompt, chosen, rejected, video} per row): the rows checked, made into examples, and trained
// through the one pipeline. Writes into `out`: adapter/ (PEFT), merged/ (a model folder in the
// input's layout), metrics.jsonl (one line per step, TRL's names), reference_logps.json (kept
// batch by batch, so none is computed twice), state/ (so running again resumes) and summary.json.
import { existsSync, readFileSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { ApiError, fileProblem, oneLine } from '../../shared/errors';
import type { ImportIssue } from '../../shared/types';
import { writeAtomically } from '../engine/graph/safetensors';
import { userTurn } from '../engine/model/tokenizer';
import { VideoLanguageModel } from '../engine/model/vlm';
import type { TrainConfig, TrainExample } from '../engine/train/train-config';
import { fitExample } from '../engine/train/truncation';
import type { StepMetrics } from '../engine/train/update-loop';
import { trainingExample } from './training-example';
import { runTraining, type ReferenceCache } from './training-pipeline';
import { resolveFfmpeg } from '../video/ffmpeg';
import { VideoFeatures } from './video-features';
import { count } from '../../shared/plural';

/** A row of a JSON or JSONL file as read (api/dataset-file.ts), or the issue that made it unreadable; `place` names it. */
export type PreferenceFileRow = { place: string } & ({ value: unknown } | { issue: ImportIssue });

const text = (field: string) => z.string({ error: (i) => (i.input === undefined ? `${field} is missing` : `${field} must be a string`) });
const filled = (field: string) => text(field).min(1, `${field} is empty`);
// A response may be empty (a model that ended its turn at once): it trains as the end-of-turn token
// alone, and a round's export holds such pairs.
const rowSchema = z.object({ prompt: filled('prompt'), chosen: text('chosen'), rejected: text('rejected').optional(), video: filled('video').optional() });
export type PreferenceRow = z.infer<typeof rowSchema> & { place: string };

/** Every row of the file, or an error listing each bad row by line and field (training on part of a file would mislead). */
export function preferenceRows(path: string, rows: readonly PreferenceFileRow[], needRejected: boolean): PreferenceRow[] {
  const good: PreferenceRow[] = [];
  const problems: string[] = [];
  for (const row of rows) {
    if ('issue' in row) {
      problems.push(row.issue.message);
      continue;
    }
    const parsed = rowSchema.safeParse(row.value);
    if (!parsed.success) problems.push(`${row.place}: ${parsed.error.issues[0].message}`);
    else if (needRejected && parsed.data.rejected === undefined) problems.push(`${row.place}: rejected is missing`);
    else good.push({ ...parsed.data, place: row.place });
  }
  // One line per row: a key or value from the file may hold a newline, shown escaped.
  if (problems.length > 0) throw new ApiError('bad_input', `${oneLine(path)}: ${count(problems.length, 'bad row')}:\n  ${problems.map(oneLine).join('\n  ')}`);
  return good;
}

export interface PreferenceTraining {
  model: string;
  /** The preference file (video paths are relative to it) and its checked rows. */
  pairs: string;
  rows: readonly PreferenceRow[];
  out: string;
  settings: TrainConfig;
  frames: number;
  cacheDir: string;
  /** Before the reference pass, with the number of pairs it computes (those the file does not keep). */
  onReference?: (pairs: number) => void;
  onStep?: (m: StepMetrics, totalSteps: number) => void;
  /** A response cut to fit max_completion_length or max_length, in words naming its row. */
  onCut?: (message: string) => void;
}

export interface PreferenceTrainingResult {
  model: string;
  examples: number;
  steps: number;
  final: StepMetrics | null;
  adapterDir: string;
  mergedDir: string;
}

export async function trainOnPreferences(t: PreferenceTraining): Promise<PreferenceTrainingResult> {
  const [out, pairsFile] = [resolve(t.out), resolve(t.pairs)];
  const model = await VideoLanguageModel.load(resolve(t.model));
  try {
    const features = t.rows.some((r) => r.video !== undefined) ? new VideoFeatures(model, (await resolveFfmpeg()).path, t.cacheDir) : null;
    const examples: TrainExample[] = [];
    const refused: string[] = [];
    for (const row of t.rows) {
      const video = row.video === undefined ? undefined : resolve(dirname(pairsFile), row.video);
      if (video !== undefined) checkVideoFile(video, `${pairsFile} ${row.place}`);
      const withVideo = features === null ? null : { features, frames: t.frames, tower: t.settings.trainProjector };
      const example = await trainingExample(model, { messages: userTurn(row.prompt, video !== undefined), chosen: row.chosen, rejected: row.rejected, video }, withVideo);
      const fitted = fitExample(example, t.settings, model.config.text.maxPositionEmbeddings);
      if ('refused' in fitted) refused.push(`${row.place}: ${fitted.refused}`);
      else {
        for (const cut of fitted.cuts) t.onCut?.(`${row.place}: ${cut}`);
        examples.push(fitted.example);
      }
    }
    if (refused.length > 0) throw new ApiError('bad_input', `${oneLine(pairsFile)}: ${count(refused.length, 'row')} too long to train on:\n  ${refused.map(oneLine).join('\n  ')}`);
    const [adapterDir, mergedDir] = [join(out, 'adapter'), join(out, 'merged')];
    const { steps, final } = await runTraining({
      model, from: model.dir, examples, settings: t.settings, stateDir: join(out, 'state'),
      reference: referenceFile(join(out, 'reference_logps.json'), examples.length), metricsFile: join(out, 'metrics.jsonl'), adapterDir, mergedDir,
      onReference: (done, total) => {
        if (done === 0) t.onReference?.(total);
      },
      onStep: t.onStep,
    });
    const summary = { model: model.dir, pairs: pairsFile, examples: examples.length, steps, settings: t.settings, final };
    writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    return { model: model.dir, examples: examples.length, steps, final, adapterDir, mergedDir };
  } finally {
    await model.release();
  }
}

/** A row's video must be a readable file: named, with its row, before any frame is decoded. */
function checkVideoFile(path: string, where: string): void {
  let info: Stats | undefined;
  try {
    info = statSync(path);
  } catch (err) {
    throw new ApiError('bad_input', oneLine(`${where}: ${fileProblem(err, 'video file', path)}`));
  }
  if (info.isDirectory()) throw new ApiError('bad_input', oneLine(`${where}: ${fileProblem({ code: 'EISDIR' }, 'video file', path)}`));
  if (!info.isFile()) throw new ApiError('bad_input', oneLine(`${where}: video path is not a regular file: ${path}`));
}

/** Reference log-probs kept in a file, [chosen..., rejected...] with null for one not computed yet:
 *  rewritten whole (atomically) after each batch of the reference pass. */
function referenceFile(file: string, n: number): ReferenceCache {
  const values: (number | null)[] = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as (number | null)[]) : Array<null>(2 * n).fill(null);
  if (values.length !== 2 * n) throw new ApiError('bad_input', `${file} holds ${values.length} reference log-probs, not the ${2 * n} of these ${n} pairs: remove it (or --out) to start afresh`);
  return {
    kept: (i) => ({ chosen: values[i], rejected: values[n + i] }),
    keep: (computed) => {
      for (const c of computed) [values[c.example], values[n + c.example]] = [c.chosen, c.rejected];
      writeAtomically(file, [new TextEncoder().encode(JSON.stringify(values))]);
    },
  };
}
