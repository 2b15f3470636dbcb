// Running ffmpeg as a child process: collect its output, feed its input with backpressure.
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  /** Writes the process's stdin; the stream is ended after it resolves. */
  feed?: (stdin: Writable) => Promise<void>;
  /** Seconds before ffmpeg is killed (code null, the reason as stderr's last line). Default: 120
   *  without a feed (a probe or a frame of a file that makes ffmpeg hang), none with one (an
   *  encode lasts as long as its input). */
  timeoutS?: number;
}

/** Runs ffmpeg to completion. Never rejects for a non-zero exit: callers read `code` and
 *  `stderr` to word the error; it rejects only when the binary cannot be started at all. */
export function runFfmpeg(ffmpeg: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: [options.feed ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const limitS = options.timeoutS ?? (options.feed ? undefined : 120);
    let timedOut = false;
    const timer = limitS === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, limitS * 1000);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new Error(`could not run ffmpeg at ${ffmpeg}: ${e.message}`)));
    // A feed that failed while ffmpeg still ran is the caller's error; one that failed because
    // ffmpeg had already exited is ffmpeg's, and its exit code and stderr report it.
    let feedError: unknown = null;
    child.on('close', (code) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8') + (timedOut ? `\nffmpeg did not finish within ${limitS} s and was stopped` : '');
      if (feedError) reject(feedError);
      else resolve({ code: timedOut ? null : code, stdout: Buffer.concat(out), stderr });
    });
    if (options.feed && child.stdin) {
      const stdin = child.stdin;
      // If ffmpeg exits early (bad arguments), writes fail with EPIPE; its stderr says why.
      stdin.on('error', () => {});
      options.feed(stdin).then(
        () => stdin.end(),
        (e: unknown) => {
          if (e instanceof InputClosed) return;
          feedError = e;
          child.kill('SIGKILL');
        },
      );
    }
  });
}

class InputClosed extends Error {
  constructor() {
    super('ffmpeg closed its input');
  }
}

/** Writes a chunk, waiting for the pipe to drain when it is full. */
export function write(stream: Writable, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    if (stream.destroyed || stream.writableEnded) return reject(new InputClosed());
    if (stream.write(chunk)) return resolve();
    const onDrain = () => {
      stream.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      stream.off('drain', onDrain);
      reject(new InputClosed());
    };
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}

/** The last meaningful line ffmpeg printed, for error messages. */
export function lastLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.at(-1) ?? 'no message';
}
