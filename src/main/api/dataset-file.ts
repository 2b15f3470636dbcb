// Reading a dataset file (a JSON array or JSONL) into rows with the line each starts on. A bad
// row becomes an issue for that line; only a file that cannot be read at all is an error.
import { readFile, stat } from 'node:fs/promises';
import { ApiError } from '../../shared/errors';
import type { ImportIssue } from '../../shared/types';

export type FileRow = { line: number; value: unknown } | { line: number; issue: ImportIssue };

const utf8 = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');

export async function readDatasetFile(path: string): Promise<FileRow[]> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new ApiError('bad_input', `dataset file not found: ${path}`);
  if (!info.isFile()) throw new ApiError('bad_input', `dataset path is not a file: ${path}`);
  if (info.size === 0) throw new ApiError('bad_input', `dataset file is empty (0 bytes): ${path}`);
  let bytes = await readFile(path);
  // A UTF-8 byte-order mark, as some editors on Windows write.
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);

  const start = bytes.findIndex((b) => !isSpace(b));
  if (start < 0) throw new ApiError('bad_input', `dataset file has no rows, only blank space: ${path}`);
  const spans = bytes[start] === 0x5b /* [ */ ? arrayElements(bytes, start, path) : jsonLines(bytes);
  if (spans.length === 0) throw new ApiError('bad_input', `dataset file has no rows: ${path}`);
  return spans.map(({ line, begin, end }) => parseRow(bytes.subarray(begin, end), line));
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

function parseRow(bytes: Uint8Array, line: number): FileRow {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { line, issue: notUtf8(bytes, line) };
  }
  try {
    return { line, value: JSON.parse(text) };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { line, issue: { line, rowId: null, field: null, message: `line ${line} is not valid JSON: ${why}` } };
  }
}

/** Names the field holding the bad bytes (often a path written in a legacy encoding) when the
 *  row parses once they are replaced; otherwise blames the line. */
function notUtf8(bytes: Uint8Array, line: number): ImportIssue {
  let field: string | null = null;
  let rowId: string | null = null;
  try {
    const row = JSON.parse(lenient.decode(bytes)) as Record<string, unknown>;
    field = Object.keys(row).find((k) => typeof row[k] === 'string' && (row[k] as string).includes('\ufffd')) ?? null;
    if (typeof row.id === 'string' || typeof row.id === 'number') rowId = String(row.id);
  } catch {
    // Not JSON even with the bytes replaced: the line is all we can name.
  }
  const where = field ? `field "${field}" on line ${line}` : `line ${line}`;
  return { line, rowId, field, message: `${where} has bytes that are not valid UTF-8 (save the file as UTF-8)` };
}
