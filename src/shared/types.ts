// Plain value types that cross the API. No Node or DOM imports here.

/** A reference to a file the main side serves (thumbnail, frame); each transport turns it into a URL. */
export type MediaKey = string;

/** Where the studio found ffmpeg (src/main/video/ffmpeg.ts). */
export type FfmpegSource = 'FFMPEG_PATH' | 'ffmpeg-static' | '@ffmpeg-installer/ffmpeg' | 'PATH';

export interface AppInfo {
  version: string;
  dbPath: string;
  /** How calls reach the studio: Electron's IPC (it offers a native file dialog), HTTP from a
   *  browser, or in-process from the CLI. */
  transport: 'ipc' | 'http' | 'in-process';
  ffmpeg: { path: string; source: FfmpegSource } | { error: string };
}

export interface DatasetSummary {
  id: number;
  name: string;
  sourcePath: string;
  status: 'importing' | 'ready';
  rowCount: number;
  errorCount: number;
  createdAt: string;
}

export interface DatasetRow {
  /** Database id of the prompt. */
  id: number;
  /** The row's own `id` field from the file. */
  rowId: string;
  line: number;
  question: string;
  answer: string | null;
  video: {
    id: number;
    path: string;
    durationS: number;
    width: number;
    height: number;
    fps: number;
    thumbnail: MediaKey | null;
  };
}

export interface DatasetRowsPage {
  total: number;
  offset: number;
  rows: DatasetRow[];
}

/** A row the import could not take, by line number, with the field at fault where there is one. */
export interface ImportIssue {
  line: number;
  rowId: string | null;
  field: string | null;
  message: string;
}

export interface ImportResult {
  datasetId: number;
  imported: number;
  skipped: number;
  failed: number;
}

export interface JobRef {
  jobId: string;
}

/** The ablation a run belongs to (METHOD.md): what its self-judge sees. */
export const runModes = ['isr', 'no-retrospect', 'no-context', 'text-judge'] as const;
export type RunMode = (typeof runModes)[number];

export interface RunSummary {
  id: number;
  mode: RunMode;
  /** 'review': a round has stopped for people's verdicts (run setting review: before-training). */
  status: 'running' | 'stopped' | 'review' | 'done' | 'failed';
  /** The round awaiting review, when status is 'review'. */
  reviewRound: number | null;
  error: string | null;
  /** The starting policy's model folder. */
  model: string;
  datasetId: number;
  evalDatasetId: number | null;
  roundsPlanned: number;
  roundsDone: number;
  createdAt: string;
}

/** A round's figures (round 0: the starting policy, evaluated only). */
export interface RoundSummary {
  round: number;
  /** Pairs trained on (people's verdicts applied); ties (kept, not trained on); pairs people found both bad (dropped). */
  pairs: number;
  ties: number;
  dropped: number;
  steps: number;
  /** Held-out accuracy (exact match, or the share graded 3 or more). */
  accuracy: number | null;
  meanTokens: number | null;
  meanWords: number | null;
  /** The judge against people's verdicts on this round's pairs (null: no verdict given yet). */
  agreement: Agreement | null;
  /** Mean share of the judge's verdict attention on visual tokens. */
  visualShare: number | null;
  /** Steps of the round done outside the studio and brought back (docs/scale.md); empty for a round the studio did whole. */
  outside: OutsideWork[];
}

/** The steps of a round that can run outside the studio (run settings `outside`): sampling its
 *  responses (e.g. with vLLM) and its DPO training (e.g. with TRL). */
export const outsideSteps = ['responses', 'training'] as const;
export type OutsideStep = (typeof outsideSteps)[number];

/** A step of a round brought back from outside: the file or folder imported, and when. */
export interface OutsideWork {
  step: OutsideStep;
  source: string;
  importedAt: string;
}

/** What a run job ends with; `awaitingReview` when it stopped for people's verdicts on that round,
 *  `awaitingOutside` when it stopped for a step done outside the studio (run settings `outside`). */
export interface RunResult {
  runId: number;
  rounds: RoundSummary[];
  awaitingReview: number | null;
  awaitingOutside: { round: number; step: OutsideStep } | null;
}

/** One run's curves for the History screen. */
export interface RunHistory {
  run: RunSummary;
  rounds: RoundSummary[];
  /** DPO steps of every round, TRL's metric names. */
  steps: { round: number; step: number; metrics: Record<string, number> }[];
}

/** The judge's verdict on a pair. */
export type PairChoice = 'a' | 'b' | 'tie';
/** A person's verdict: prefer A or B (trained on), tie (kept, not trained on), both bad (dropped). */
export const personVerdicts = ['a', 'b', 'tie', 'both-bad'] as const;
export type PersonVerdict = (typeof personVerdicts)[number];

/** One row of the review queue. */
export interface PairSummary {
  id: number;
  round: number;
  question: string;
  /** The judge's probability that A is better, averaged over both orders. */
  pA: number;
  judgeChoice: PairChoice;
  /** People's verdict in force (null: none). */
  override: PersonVerdict | null;
  /** |p(A) asked A-first - p(A) asked B-first|: how much the two orders disagree. */
  disagreement: number;
  /** The two orders prefer different responses: the judge's position bias decided the pair. */
  ordersDisagree: boolean;
  /** Tokens of A minus tokens of B. */
  lengthDiff: number;
}

export interface PairsPage {
  total: number;
  pairs: PairSummary[];
}

/** How many of a round's pairs people have given a verdict, of how many, and the budget they set. */
export interface ReviewProgress {
  reviewed: number;
  total: number;
  budget: number | null;
}

/**
 * The judge against people, over the pairs people gave a verdict: percent agreement, Cohen's
 * kappa over the labels a, b, tie, both-bad (the judge never says both-bad), the confusion
 * matrix, and agreement by the judge's confidence |p(A) - 0.5|.
 */
export interface Agreement {
  n: number;
  agreed: number;
  /** agreed / n. */
  percent: number;
  /** null when chance agreement is 1 (every verdict one label on both sides). */
  kappa: number | null;
  /** Counts by judge verdict, then person verdict. */
  confusion: Record<PairChoice, Record<PersonVerdict, number>>;
  /** Bins of |p(A) - 0.5| from `from` (inclusive) to `to` (exclusive; the last includes 0.5). */
  byConfidence: { from: number; to: number; n: number; agreed: number }[];
}

/** A model folder the studio knows: a run's starting policy, or the model a round trained. */
export interface KnownModel {
  path: string;
  family: string;
  /** Where it came from: the start of a run, or round `round` of run `runId`. */
  origin: { kind: 'start' } | { kind: 'round'; runId: number; round: number };
  createdAt: string;
}

/** One order of the judge's verdict on a pair, with where it looked. */
export interface VerdictDetail {
  shownFirst: 'a' | 'b';
  /** Probability that the response shown first is better. */
  pFirst: number;
  visualShare: number | null;
  /** Attention of the verdict position per frame: frames x rows x cols values, row-major. */
  attention: { frames: number; rows: number; cols: number; values: number[] } | null;
}

/** Everything the review screen shows for one pair. */
export interface PairDetail extends PairSummary {
  /** The frames the judge saw, as images, in order, and each one's time in the clip. */
  frames: MediaKey[];
  frameTimesS: number[];
  /** The video itself, for playing (served with range requests). */
  video: MediaKey;
  /** The dataset's reference answer, where it has one. */
  reference: string | null;
  responses: { a: { text: string; tokens: number }; b: { text: string; tokens: number } };
  verdicts: VerdictDetail[];
  /** The context the judge read and the earlier ones it refined: c0, ..., ct (empty when it read none). */
  contexts: string[];
}
