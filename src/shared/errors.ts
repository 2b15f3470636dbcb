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
