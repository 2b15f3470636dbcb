import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastLine, runFfmpeg } from './run';

/** A stand-in for an ffmpeg that never finishes (a file that makes the real one hang). */
function hangingFfmpeg(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'isr-ffmpeg-')), 'ffmpeg');
  writeFileSync(path, '#!/bin/sh\necho "Input #0, something" >&2\nexec sleep 30\n');
  chmodSync(path, 0o755);
  return path;
}

describe('runFfmpeg', () => {
  it('stops an ffmpeg that does not finish in time, saying so as the last line of stderr', async () => {
    const started = Date.now();
    const result = await runFfmpeg(hangingFfmpeg(), ['-i', 'x.mp4'], { timeoutS: 0.5 });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.code).toBeNull();
    expect(lastLine(result.stderr)).toBe('ffmpeg did not finish within 0.5 s and was stopped');
  });
});
