// What the end-to-end specs share: the `isr-studio` command from the repository, and a real
// `isr-studio serve` on a database, with the URL (and token) it prints.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..');

export const cli = (...args: string[]): string => execFileSync(process.execPath, ['bin/isr-studio.mjs', ...args], { cwd: root, encoding: 'utf8' });

export interface Served {
  process: ChildProcess;
  url: string;
  /** SIGTERM, which closes the studio cleanly; resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function serve(db: string): Promise<Served> {
  const child = spawn(process.execPath, ['bin/isr-studio.mjs', 'serve', '--db', db, '--port', '0'], { cwd: root });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const found = /serving at (\S+)/.exec(out);
      if (found) resolve(found[1]);
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => reject(new Error(`isr-studio serve exited with ${code}: ${out}`)));
  });
  return {
    process: child,
    url,
    stop() {
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    },
  };
}
