// Plain value types that cross the API. No Node or DOM imports here.

/** A reference to a file the main side serves (thumbnail, frame); each transport turns it into a URL. */
export type MediaKey = string;

export interface AppInfo {
  version: string;
  dbPath: string;
  /** Which transport the renderer is talking through; Electron offers a native file dialog. */
  transport: 'ipc' | 'http';
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
