// Plain value types that cross the API. No Node or DOM imports here.

/** A reference to a file the main side serves (thumbnail, frame); each transport turns it into a URL. */
export type MediaKey = string;

export interface AppInfo {
  version: string;
  dbPath: string;
  /** How calls reach the studio: Electron's IPC (it offers a native file dialog), HTTP from a
   *  browser, or in-process from the CLI. */
  transport: 'ipc' | 'http' | 'in-process';
  ffmpeg: { path: string; source: 'FFMPEG_PATH' | 'ffmpeg-static' | 'PATH' } | { error: string };
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
  status: 'running' | 'stopped' | 'done' | 'failed';
  error: string | null;
  datasetId: number;
  evalDatasetId: number | null;
  roundsPlanned: number;
  roundsDone: number;
  createdAt: string;
}

/** A round's figures (round 0: the starting policy, evaluated only). */
export interface RoundSummary {
  round: number;
  /** Pairs trained on (overrides applied), and ties dropped. */
  pairs: number;
  ties: number;
  steps: number;
  /** Held-out accuracy (exact match, or the share graded 3 or more). */
  accuracy: number | null;
  meanTokens: number | null;
  meanWords: number | null;
  /** Share of this round's overridden pairs where the judge had chosen as the person did. */
  judgeAgreement: number | null;
  /** Mean share of the judge's verdict attention on visual tokens. */
  visualShare: number | null;
}

/** What a run job ends with. */
export interface RunResult {
  runId: number;
  rounds: RoundSummary[];
}

/** One run's curves for the History screen. */
export interface RunHistory {
  run: RunSummary;
  rounds: RoundSummary[];
  /** DPO steps of every round, TRL's metric names. */
  steps: { round: number; step: number; metrics: Record<string, number> }[];
}

export type PairChoice = 'a' | 'b' | 'tie';

/** One row of the review queue. */
export interface PairSummary {
  id: number;
  round: number;
  question: string;
  /** The judge's probability that A is better, averaged over both orders. */
  pA: number;
  judgeChoice: PairChoice;
  override: PairChoice | null;
  /** |p(A) asked A-first - p(A) asked B-first|: how much the two orders disagree. */
  disagreement: number;
  /** Tokens of A minus tokens of B. */
  lengthDiff: number;
}

export interface PairsPage {
  total: number;
  pairs: PairSummary[];
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
  /** The frames the judge saw, as images, in order. */
  frames: MediaKey[];
  responses: { a: { text: string; tokens: number }; b: { text: string; tokens: number } };
  verdicts: VerdictDetail[];
  /** The context the judge read and the earlier ones it refined: c0, ..., ct (empty when it read none). */
  contexts: string[];
}
