// The API, declared once. Main implements it (src/main/api), preload and serve expose it,
// the renderer's one client calls it. Inputs are validated here at the boundary with zod.
import { z } from 'zod';
import type { ApiErrorShape } from './errors';
import type { JobSnapshot } from './jobs';
import type {
  Agreement,
  AppInfo,
  DatasetRowsPage,
  DatasetSummary,
  ImportIssue,
  JobRef,
  KnownModel,
  PairDetail,
  PairsPage,
  PairSummary,
  ReviewProgress,
  RunHistory,
  RunSummary,
} from './types';
import { runSettingsSchema } from './run-settings';
import { personVerdicts, runModes } from './types';

interface Method<I extends z.ZodType, O> {
  input: I;
  /** Phantom: carries the output type only. */
  output?: O;
}

function method<O>() {
  return <I extends z.ZodType>(input: I): Method<I, O> => ({ input });
}

const empty = z.object({}).strict().default({});
const datasetId = z.number().int().positive();
const runId = z.number().int().positive();
const roundNumber = z.number().int().min(1);
const pairId = z.number().int().positive();
const probability = z.number().min(0).max(1);

export const contract = {
  appInfo: method<AppInfo>()(empty),
  listDatasets: method<DatasetSummary[]>()(empty),
  getDatasetRows: method<DatasetRowsPage>()(
    z
      .object({
        datasetId,
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(1000).default(200),
      })
      .strict(),
  ),
  getImportIssues: method<ImportIssue[]>()(z.object({ datasetId }).strict()),
  /** Starts an import job; progress and the ImportResult arrive as job events. */
  importDataset: method<JobRef>()(
    z
      .object({
        path: z.string().min(1, 'path is empty'),
        name: z.string().min(1).max(200).optional(),
      })
      .strict(),
  ),
  renameDataset: method<DatasetSummary>()(z.object({ datasetId, name: z.string().trim().min(1, 'the name is empty').max(200) }).strict()),
  /** Deletes a dataset and its rows; refused while a run uses it. */
  deleteDataset: method<{ deleted: true }>()(z.object({ datasetId }).strict()),
  /** The model folders the studio knows: runs' starting policies and the models rounds trained. */
  listModels: method<KnownModel[]>()(empty),
  /** Checks a model folder as a run would before it starts (config, weights, tokenizer, processor). */
  checkModel: method<{ path: string; family: string }>()(z.object({ path: z.string().min(1, 'the model folder is empty') }).strict()),
  listRuns: method<RunSummary[]>()(empty),
  /** Registers an ISR-DPO run (settings validated first) and starts it as a job ending in a RunResult. */
  startRun: method<JobRef & { runId: number }>()(
    z
      .object({
        model: z.string().min(1, 'model is empty'),
        datasetId,
        evalDatasetId: datasetId.nullable().default(null),
        rounds: z.number().int().min(1).max(100),
        mode: z.enum(runModes).default('isr'),
        /** Run settings (src/shared/run-settings.ts); fields left out take their defaults. */
        settings: runSettingsSchema.prefault({}),
      })
      .strict(),
  ),
  /** Continues a stopped, failed or killed run from what the database holds; a run awaiting review
   *  trains the reviewed round on people's verdicts ("Train round N"). */
  resumeRun: method<JobRef>()(z.object({ runId }).strict()),
  /** The review queue of a run: filtered and sorted in SQL, a page at a time (lists of 10,000 stay fast). */
  listPairs: method<PairsPage>()(
    z
      .object({
        runId,
        round: roundNumber.optional(),
        /** review: the pairs the judge is least sure of first (its orders disagree or p(A) is in the tie band, then nearest 0.5);
         *  confidence: nearest 0.5 first; disagreement: the two orders most at odds first; length: largest length difference first. */
        sort: z.enum(['review', 'id', 'confidence', 'disagreement', 'length']).default('review'),
        overridden: z.boolean().optional(),
        judgeChoice: z.enum(['a', 'b', 'tie']).optional(),
        /** p(A) within [low, high]. */
        pA: z.tuple([probability, probability]).optional(),
        ordersDisagree: z.boolean().optional(),
        /** Words the question or either response contains. */
        text: z.string().trim().max(200).optional(),
        offset: z.number().int().min(0).default(0),
        limit: z.number().int().min(1).max(1000).default(200),
      })
      .strict(),
  ),
  /** Every run's per-round figures and DPO steps, for charts that compare runs and modes. */
  getHistory: method<RunHistory[]>()(empty),
  /** A round's pairs as TRL DPO JSONL text (people's verdicts applied, ties and both-bad left out); refused when none remain. */
  exportPairs: method<{ fileName: string; jsonl: string; rows: number }>()(z.object({ runId, round: roundNumber }).strict()),
  getPair: method<PairDetail>()(z.object({ pairId }).strict()),
  /** A person's verdict on a pair, saved at once; 'cleared' withdraws it. The judge's record never changes. */
  setOverride: method<PairSummary>()(z.object({ pairId, choice: z.enum([...personVerdicts, 'cleared']) }).strict()),
  /** The same verdict on many pairs; 'judge' accepts the judge's own verdict on each. */
  setOverrides: method<{ updated: number }>()(
    z.object({ pairIds: z.array(pairId).min(1).max(10_000), choice: z.enum([...personVerdicts, 'cleared', 'judge']) }).strict(),
  ),
  /** The judge against people's verdicts: a round's, or the whole run's (null: no verdicts yet). */
  getAgreement: method<{ agreement: Agreement | null }>()(z.object({ runId, round: roundNumber.optional() }).strict()),
  getReviewProgress: method<ReviewProgress>()(z.object({ runId, round: roundNumber }).strict()),
  /** How many of a round's pairs people mean to review (null: no budget). */
  setReviewBudget: method<ReviewProgress>()(z.object({ runId, round: roundNumber, budget: z.number().int().min(1).nullable() }).strict()),
  listJobs: method<JobSnapshot[]>()(empty),
  cancelJob: method<{ cancelled: boolean }>()(z.object({ jobId: z.string().min(1) }).strict()),
} as const;

export type Contract = typeof contract;
export type MethodName = keyof Contract;
export type Input<M extends MethodName> = z.input<Contract[M]['input']>;
export type ParsedInput<M extends MethodName> = z.output<Contract[M]['input']>;
export type Output<M extends MethodName> = NonNullable<Contract[M]['output']>;

/** What the renderer calls; every transport provides exactly this. */
export type StudioApi = { [M in MethodName]: (input: Input<M>) => Promise<Output<M>> };
/** What main implements; inputs arrive already validated and defaulted. */
export type StudioService = { [M in MethodName]: (input: ParsedInput<M>) => Promise<Output<M>> };

export const methodNames = Object.keys(contract) as MethodName[];

export function isMethodName(name: string): name is MethodName {
  return Object.prototype.hasOwnProperty.call(contract, name);
}

/** Events pushed from main to every connected renderer. */
export type StudioEvent = { type: 'job'; job: JobSnapshot };

/** The envelope every transport uses for a call's answer. */
export type CallResult<T> = { ok: true; value: T } | { ok: false; error: ApiErrorShape };
