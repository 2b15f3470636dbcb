import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { count } from '../src/shared/plural';
import { resolveFfmpeg } from '../src/main/video/ffmpeg';
import { flatClip } from '../src/main/video/testing/clips';
import { runCli, startCli } from './cli';

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-cli-import-'));
  const ffmpeg = (await resolveFfmpeg()).path;
  await flatClip(ffmpeg, join(dir, 'clip.mp4'), Array(3).fill([90, 160, 40]), { width: 32, height: 24, fps: 3 });
  writeFileSync(join(dir, 'corrupt.mp4'), 'definitely not an mp4 file, just text');
});

describe('isr-studio import', () => {
  it('imports the good rows, prints each bad one by line, and exits 0', async () => {
    const data = join(dir, 'rows.json');
    const text = JSON.stringify(
        [
          { id: 1, video: 'clip.mp4', question: 'What colour is it?', answer: 'green' },
          { id: 2, video: 'corrupt.mp4', question: 'q' },
          { id: 3, video: 'clip.mp4', question: '' },
          { id: 4, video: 'clip.mp4', question: 'How many frames?' },
        ],
        null,
        1,
    );
    writeFileSync(data, text);
    // Each element's opening brace sits on the line before its "id".
    const lineOf = (id: number) => text.split('\n').findIndex((l) => l.includes(`"id": ${id},`));
    const db = join(dir, 'a.db');
    const { code, stdout, stderr } = await runCli(['import', '--db', db, '--data', data, '--name', 'mine']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^reading: /m);
    expect(stdout).toMatch(/^probing videos: 4\/4$/m);
    expect(stdout).toContain('dataset 1 "mine" (ready): 2 rows imported, 0 already there, 2 rejected; 2 rows in all');
    expect(lineOf(2)).toBeGreaterThan(2);
    expect(stdout).toMatch(new RegExp(`^  line ${lineOf(2)}: .*corrupt\\.mp4 is not a video ffmpeg can read`, 'm'));
    expect(stdout).toContain(`  line ${lineOf(3)}: question is empty`);
  });

  it.each([
    ['a missing dataset file', () => join(dir, 'absent.jsonl'), /isr-studio: dataset file not found: .*absent\.jsonl/],
    ['a 0-byte dataset file', () => (writeFileSync(join(dir, 'zero.jsonl'), ''), join(dir, 'zero.jsonl')), /isr-studio: dataset file is empty \(0 bytes\): .*zero\.jsonl/],
  ])('exits non-zero on %s, naming it', async (_label, make, message) => {
    const { code, stderr } = await runCli(['import', '--db', join(dir, 'b.db'), '--data', make()]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
  });

  it('exits non-zero without --data', async () => {
    const { code, stderr } = await runCli(['import', '--db', join(dir, 'c.db')]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/--data/);
  });

  it('survives kill -9 mid-import with a valid database, and a re-run stores every row exactly once', async () => {
    const total = 64;
    const lines = Array.from({ length: total }, (_, i) => {
      // Distinct files, so each row costs a probe and a thumbnail and the import takes a while.
      copyFileSync(join(dir, 'clip.mp4'), join(dir, `c${i}.mp4`));
      return JSON.stringify({ id: `k${i}`, video: `c${i}.mp4`, question: `Row ${i}?`, answer: String(i) });
    });
    const data = join(dir, 'big.jsonl');
    writeFileSync(data, lines.join('\n') + '\n');
    const dbPath = join(dir, 'killed.db');

    const { child, done } = startCli(['import', '--db', dbPath, '--data', data]);
    let stored = 0;
    for (let waited = 0; stored === 0 && waited < 60_000; waited += 25) {
      await sleep(25);
      if (!existsSync(dbPath)) continue;
      const peek = new Database(dbPath, { timeout: 5000 });
      try {
        stored = (peek.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'prompts'").pluck().get() as number)
          ? (peek.prepare('SELECT COUNT(*) FROM prompts').pluck().get() as number)
          : 0;
      } finally {
        peek.close();
      }
    }
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.code).toBeNull();

    const db = new Database(dbPath);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toEqual([]);
    const cut = db.prepare('SELECT COUNT(*) FROM prompts').pluck().get() as number;
    // Killed mid-way: some batches in, not all.
    expect(cut).toBeGreaterThan(0);
    expect(cut).toBeLessThan(total);
    expect(db.prepare('SELECT status FROM datasets').pluck().all()).toEqual(['importing']);
    db.close();

    const rerun = await runCli(['import', '--db', dbPath, '--data', data]);
    expect(rerun.stderr).toBe('');
    expect(rerun.code).toBe(0);
    expect(rerun.stdout).toContain(`${count(total - cut, 'row')} imported, ${cut} already there, 0 rejected; ${total} rows in all`);

    const after = new Database(dbPath);
    expect(after.prepare('SELECT status FROM datasets').pluck().all()).toEqual(['ready']);
    const ids = after.prepare('SELECT row_id FROM prompts ORDER BY line').pluck().all();
    expect(ids).toEqual(Array.from({ length: total }, (_, i) => `k${i}`));
    expect(after.prepare('SELECT COUNT(*) FROM videos').pluck().get()).toBe(total);
    expect(after.pragma('integrity_check', { simple: true })).toBe('ok');
    after.close();
  }, 120_000);

  it('lets two imports of the same file run at once on a new database: both finish, and each row is stored once', async () => {
    const total = 24;
    const data = join(dir, 'twice.jsonl');
    writeFileSync(data, Array.from({ length: total }, (_, i) => JSON.stringify({ id: i, video: 'clip.mp4', question: `Row ${i}?` })).join('\n'));
    const dbPath = join(dir, 'twice.db');
    const [one, two] = await Promise.all([runCli(['import', '--db', dbPath, '--data', data]), runCli(['import', '--db', dbPath, '--data', data])]);
    for (const r of [one, two]) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`${total} rows in all`);
    }
    const db = new Database(dbPath);
    expect(db.prepare('SELECT COUNT(*) FROM prompts').pluck().get()).toBe(total);
    expect(db.prepare('SELECT status FROM datasets').pluck().all()).toEqual(['ready']);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  }, 60_000);

  it('names a --db that is no database, or a folder, and leaves the file as it was', async () => {
    const garbage = join(dir, 'garbage.db');
    writeFileSync(garbage, 'not a database at all, just some text that is long enough to be read');
    const before = readFileSync(garbage);
    const notDb = await runCli(['import', '--db', garbage, '--data', join(dir, 'absent.jsonl')]);
    expect(notDb.code).not.toBe(0);
    expect(notDb.stderr.trim()).toBe(`isr-studio: ${garbage} cannot be used as a studio database: file is not a database`);
    expect(readFileSync(garbage)).toEqual(before);
    const folder = await runCli(['import', '--db', dir, '--data', join(dir, 'absent.jsonl')]);
    expect(folder.code).not.toBe(0);
    expect(folder.stderr.trim()).toBe(`isr-studio: studio database is a folder, not a file: ${dir}`);
  });
});
