// One engine per run. An engine whose studio was killed exits at its next turn of the event loop,
// which can come after a long native call; a resumed run must not meet it as a second writer. So
// each run task records its pid, and the next one first ends an engine still holding the run.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Whether `pid` is an engine process: checked where the OS shows a command line (Linux), so a
 *  reused pid of another program is never killed; elsewhere the lock only waits for it. */
function isEngine(pid: number): boolean | null {
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return process.platform === 'linux' ? false : null;
  return readFileSync(cmdline, 'utf8').includes('engine-process');
}

/** Takes the run's lock: ends (Linux) or waits for (elsewhere, up to `waitMs`) an engine still holding it. */
export async function claimEngineLock(file: string, waitMs = 30_000): Promise<() => void> {
  const held = existsSync(file) ? Number(readFileSync(file, 'utf8')) : NaN;
  if (Number.isInteger(held) && held !== process.pid && alive(held)) {
    const engine = isEngine(held);
    if (engine === true) process.kill(held, 'SIGKILL');
    if (engine !== false) for (const start = Date.now(); alive(held) && Date.now() - start < waitMs; ) await sleep(50);
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, String(process.pid));
  return () => {
    if (existsSync(file) && readFileSync(file, 'utf8') === String(process.pid)) rmSync(file);
  };
}
