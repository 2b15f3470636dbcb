// The command's own mistakes (a missing option, a bad value, an unknown command, a mistyped --db) in
// the one form of every error: one line `isr-studio: <message>` on stderr, exit status 1.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli';

const dir = mkdtempSync(join(tmpdir(), 'isr-cli-usage-'));

describe.concurrent('isr-studio usage errors', () => {
  it.each([
    [['demo-data'], "isr-studio: required option '--out <dir>' not specified; `isr-studio demo-data --help` lists the options and their defaults"],
    [['fixture', '--out', join(dir, 'f')], 'isr-studio: give --arch (a family) or --like (a published checkpoint); `isr-studio fixture --help` lists the options and their defaults'],
    [['generate', '--model', 'm', '--video', 'v.mp4', '--prompt', 'p', '--frames', '0'], "isr-studio: option '--frames <n>' argument '0' is invalid. expected a whole number from 1 to 64; `isr-studio generate --help` lists the options and their defaults"],
    [['exprt'], "isr-studio: unknown command 'exprt' (Did you mean export?); `isr-studio --help` lists the commands"],
    [['inspect', 'logit'], "isr-studio: unknown command 'logit' (Did you mean logits?); `isr-studio inspect --help` lists the commands"],
  ])('%j: one line, exit 1', async (args, line) => {
    const result = await runCli(args);
    expect([result.code, result.stderr, result.stdout]).toEqual([1, `${line}\n`, '']);
  });

  it.each([
    ['export', '--out', join(dir, 'pairs.jsonl')],
    ['override', '--all', '--choice', 'a'],
    ['import-responses', '--file', join(dir, 'responses.jsonl')],
  ])('%s on a database that is not there: refused, naming it, and none is made', async (command, ...args) => {
    const db = join(dir, `${command}.db`);
    const result = await runCli([command, '--db', db, '--run', '1', '--round', '1', ...args]);
    expect([result.code, result.stderr]).toEqual([1, `isr-studio: no studio database at ${db} (give the --db that \`isr-studio run\` used)\n`]);
    expect(existsSync(db)).toBe(false);
  });
});
