// Reading a dataset file (a JSON array or JSONL) into rows with the line each starts on. A bad
// row becomes an issue for that line; only a file that cannot be read at all is an error.
import { readFile, stat } from 'node:fs/promises';
import { ApiError, fileProblem, jsonProblem } from '../../shared/errors';
import type { ImportIssue } from '../../shared/types';
import { count } from '../../shared/plural';

/** Where a row is in its file: the line it starts on and its place among the rows starting there
 *  (a JSON array written on one line, as Python's json.dump writes it, has them all on line 1);
 *  `place` says so in words for messages. */
export interface RowPlace {
  line: number;
  lineIndex: number;
  place: string;
}

export type FileRow = RowPlace & ({ value: unknown } | { issue: ImportIssue });

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');

export async function readDatasetFile(path: string): Promise<FileRow[]> {
  const info = await stat(path).catch((err: unknown) => {
    throw new ApiError('bad_input', fileProblem(err, 'dataset file', path));
  });
  if (!info.isFile()) throw new ApiError('bad_input', `dataset path is not a file: ${path}`);
  if (info.size === 0) throw new ApiError('bad_input', `dataset file is empty (0 bytes): ${path}`);
  let bytes = await readFile(path).catch((err: unknown) => {
    throw new ApiError('bad_input', fileProblem(err, 'dataset file', path));
  });
  // A UTF-8 byte-order mark, as some editors on Windows write.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);

  const start = bytes.findIndex((b) => !isSpace(b));
  if (start < 0) throw new ApiError('bad_input', `dataset file has no rows, only blank space: ${path}`);
  const spans = bytes[start] === 0x5b /* [ */ ? arrayElements(bytes, start, path) : jsonLines(bytes);
  if (spans.length === 0) throw new ApiError('bad_input', `dataset file has no rows: ${path}`);
  const rows = spans.map((span, i) => parseRow(bytes.subarray(span.begin, span.end), rowPlace(spans, i)));
  if (rows.every((r) => 'issue' in r && r.issue.field === null && r.issue.message.includes('not valid JSON'))) {
    // Some other kind of file: say so once, echoing none of its contents.
    throw new ApiError('bad_input', `${path} is not a dataset file: none of its ${count(rows.length, 'line')} or elements is JSON (expected JSON Lines or a JSON array of rows)`);
  }
  return rows;
}

function rowPlace(spans: Span[], i: number): RowPlace {
  const { line } = spans[i];
  let lineIndex = 0;
  while (lineIndex < i && spans[i - lineIndex - 1].line === line) lineIndex++;
  let onLine = lineIndex + 1;
  while (i + onLine - lineIndex < spans.length && spans[i + onLine - lineIndex].line === line) onLine++;
  return { line, lineIndex, place: onLine > 1 ? `line ${line} (row ${lineIndex + 1} of ${onLine} on it)` : `line ${line}` };
}

interface Span {
  line: number;
  begin: number;
  end: number;
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/** One span per non-blank line. Scanning bytes, not text, keeps a bad byte on one line from
 *  spoiling the others (every byte of a multi-byte UTF-8 sequence is >= 0x80, never a newline). */
function jsonLines(bytes: Uint8Array): Span[] {
  const spans: Span[] = [];
  let begin = 0;
  let line = 1;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    if (bytes.subarray(begin, i).some((b) => !isSpace(b))) spans.push({ line, begin, end: i });
    begin = i + 1;
    line++;
  }
  return spans;
}

/** The top-level elements of a JSON array, each with the line it starts on, found by tracking
 *  strings and nesting; each element is then parsed alone, so one bad element is one bad row. */
function arrayElements(bytes: Uint8Array, open: number, path: string): Span[] {
  const spans: Span[] = [];
  let line = 1 + bytes.subarray(0, open).filter((b) => b === 0x0a).length;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let current: Span | null = null;
  for (let i = open + 1; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0a) line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (b === 0x5c /* \ */) escaped = true;
      else if (b === 0x22 /* " */) inString = false;
      continue;
    }
    if (depth === 0 && (b === 0x2c /* , */ || b === 0x5d /* ] */)) {
      if (current) spans.push({ ...current, end: i });
      current = null;
      if (b === 0x5d) {
        const rest = bytes.subarray(i + 1);
        if (rest.some((x) => !isSpace(x))) {
          throw new ApiError('bad_input', `dataset file ${path} has text after the closing ] of its array on line ${line}`);
        }
        return spans;
      }
      continue;
    }
    if (!current && !isSpace(b)) current = { line, begin: i, end: i };
    if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) depth++;
    else if (b === 0x5d || b === 0x7d) depth--;
  }
  throw new ApiError('bad_input', `dataset file ${path} ends before its JSON array is closed with ]`);
}

function parseRow(bytes: Uint8Array, at: RowPlace): FileRow {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ...at, issue: notUtf8(bytes, at) };
  }
  try {
    return { ...at, value: JSON.parse(text) };
  } catch (err) {
    return { ...at, issue: { line: at.line, rowId: null, field: null, message: `${at.place} is not valid JSON: ${jsonProblem(err)}` } };
  }
}

/** Names the field holding the bad bytes (often a path written in a legacy encoding) when the
 *  row parses once they are replaced; otherwise blames the line. */
function notUtf8(bytes: Uint8Array, at: RowPlace): ImportIssue {
  let field: string | null = null;
  let rowId: string | null = null;
  try {
    const row = JSON.parse(lenient.decode(bytes)) as Record<string, unknown>;
    field = Object.keys(row).find((k) => typeof row[k] === 'string' && (row[k] as string).includes('\ufffd')) ?? null;
    if (typeof row.id === 'string' || typeof row.id === 'number') rowId = String(row.id);
  } catch {
    // Not JSON even with the bytes replaced: the line is all we can name.
  }
  const where = field ? `field "${field}" on ${at.place}` : at.place;
  return { line: at.line, rowId, field, message: `${where} has bytes that are not valid UTF-8 (save the file as UTF-8)` };
}
