// The Chromium the end-to-end tests drive: the system's (Playwright's own download is never used),
// or CHROMIUM_PATH. Checked once before any test, so a machine without it gets one clear line; the
// run's scratch folder is made here too, and removed when the run ends.
import { accessSync, constants } from 'node:fs';
import { useScratchDir } from '../test/scratch-dir';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export default function setUpRun(): () => void {
  try {
    accessSync(chromiumPath, constants.X_OK);
  } catch {
    throw new Error(
      `no Chromium at ${chromiumPath} for the end-to-end tests: install it (Debian and Ubuntu: sudo apt-get install chromium; .ci/run does) ` +
        'or set CHROMIUM_PATH to a Chromium or Chrome binary',
    );
  }
  return useScratchDir();
}
