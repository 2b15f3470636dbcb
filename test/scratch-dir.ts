// One scratch folder for a whole test run: every temporary folder the specs, the CLI processes
// they start and ffmpeg make lands under it (TMPDIR is what os.tmpdir() and mkdtemp read), and it is
// removed when the run ends, however the specs cleaned up after themselves. Without it a full run
// left gigabytes of fixtures and databases in the system's temporary folder, every time.
// ISR_KEEP_TEST_TMP=1 keeps it, to look into a failure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function useScratchDir(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'isr-tests-'));
  for (const name of ['TMPDIR', 'TMP', 'TEMP']) process.env[name] = dir;
  // Sessions go through a graph cache as the user's do, but this run's own, not the user's.
  process.env.ISR_GRAPH_CACHE = join(dir, 'graphs');
  return () => {
    if (process.env.ISR_KEEP_TEST_TMP) console.log(`test scratch folder kept: ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };
}

/** Vitest's globalSetup: the scratch folder, and its removal as the teardown. */
export default useScratchDir;
