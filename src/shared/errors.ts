// Errors are values with a code and a human sentence; they cross every transport as plain objects.

export const errorCodes = [
  'invalid_argument', // a request failed schema validation; `details` names the field
  'not_found',
  'unauthorized',
  'cancelled',
  'ffmpeg_missing',
  'bad_input', // a file or row the user supplied is unusable; the message names it
  'engine_failed', // the engine process ended without an outcome (killed, a native crash, out of memory)
  'internal',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

export interface ApiErrorShape {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export class ApiError extends Error implements ApiErrorShape {
  readonly code: ErrorCode;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.details = details;
  }

  toJSON(): ApiErrorShape {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static from(shape: ApiErrorShape): ApiError {
    return new ApiError(shape.code, shape.message, shape.details);
  }
}

/** Any thrown value as an ApiErrorShape, so nothing but typed errors crosses the boundary. */
export function toErrorShape(err: unknown): ApiErrorShape {
  if (err instanceof ApiError) return err.toJSON();
  if (err instanceof Error) return { code: 'internal', message: err.message };
  return { code: 'internal', message: String(err) };
}

/** JSON.parse's reason without the excerpt of the text it quotes (`, "…" is not valid JSON`, or from
 *  further in `, ..."…"... is not valid JSON`): a file any caller names must not have its contents
 *  echoed back, and the excerpt may hold newlines. */
export function jsonProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/, (?:\.\.\.)?".*is not valid JSON$/s, '').replace(/^Unexpected token '.+?'/s, 'unexpected character').replace(/^"[^]*" is not valid JSON$/, 'not a JSON value');
}

/** A value from a user's file as a message quotes it: JSON, cut at `max` characters (a config key
 *  set to a megabyte string must not make a megabyte message). */
export function shownValue(value: unknown, max = 80): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max)}… (${text.length.toLocaleString('en-US')} characters)` : text;
}

/** `text` with what would break its line or drive a terminal (control characters, DEL, the Unicode
 *  line separators) written as escapes, a newline as \n: a path or id from a user's file may hold
 *  any of them, and a message stays one line. */
export function oneLine(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.charCodeAt(0);
    const breaks = (code < 0x20 && c !== '\t') || code === 0x7f || code === 0x85 || code === 0x2028 || code === 0x2029;
    out += !breaks ? c : c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return out;
}

/** What a file-system error on `path` means, in words a user can act on (no raw errno text), as
 *  a sentence about `what` ("video file", "studio database"). */
export function fileProblem(err: unknown, what: string, path: string): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ENOENT': return `${what} not found: ${path}`;
    case 'ENAMETOOLONG': return `${what} path is too long for the file system (${new TextEncoder().encode(path).length} bytes): ${path.slice(0, 120)}…`;
    case 'ELOOP': return `${what} path goes round in a loop of symbolic links: ${path}`;
    case 'EISDIR': return `${what} is a folder, not a file: ${path}`;
    case 'ENOTDIR': return `${what} path has a file where a folder should be: ${path}`;
    case 'EACCES': case 'EPERM': return `${what} cannot be read (permission denied): ${path}`;
    default: return `${what} cannot be read (${typeof code === 'string' ? code : 'unknown error'}): ${path}`;
  }
}
