// Importing files as users write them and videos as they come: rows several to a line, two imports
// of one file at once, clips of one frame, files cut short, paths the file system refuses.
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../store/db';
import { listIssues } from '../store/import-issues';
import { resolveFfmpeg } from '../video/ffmpeg';
import { encodeRgbVideo } from '../video/encode';
import { flatClip } from '../video/testing/clips';
import { importDataset, type ImportContext, type ImportDeps } from './import-dataset';

let dir: string;
let ffmpeg: string;
const quiet: ImportContext = { progress: () => {}, throwIfCancelled: () => {} };

/** Frames of seeded noise: they do not compress, so cutting the file cuts frames. */
function noiseFrames(count: number, width: number, height: number): Uint8Array[] {
  let s = 12345;
  return Array.from({ length: count }, () => Uint8Array.from({ length: width * height * 3 }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24)));
}

beforeAll(async () => {
  ffmpeg = (await resolveFfmpeg()).path;
  dir = mkdtempSync(join(tmpdir(), 'isr-import-'));
  await flatClip(ffmpeg, join(dir, 'a.mp4'), Array(4).fill([200, 30, 30]), { width: 32, height: 24, fps: 4 });
  await flatClip(ffmpeg, join(dir, 'one-frame.mp4'), [[30, 200, 30]], { width: 32, height: 24, fps: 10 });
  await encodeRgbVideo(ffmpeg, join(dir, 'noise.mp4'), noiseFrames(40, 64, 48), { width: 64, height: 48, fps: 10 });
  const whole = readFileSync(join(dir, 'noise.mp4'));
  writeFileSync(join(dir, 'half.mp4'), whole.subarray(0, whole.length / 2));
  writeFileSync(join(dir, 'quarter.mp4'), whole.subarray(0, whole.length / 4));
  // The movie header's duration (mvhd, version 0: seconds x timescale at byte 20 of the box) made 0 and 2^32 - 1.
  const mvhd = whole.indexOf('mvhd');
  for (const [name, value] of [['duration-zero.mp4', 0], ['duration-huge.mp4', 0xffffffff]] as const) {
    const copy = Buffer.from(whole);
    copy.writeUInt32BE(value, mvhd + 20);
    writeFileSync(join(dir, name), copy);
  }
  symlinkSync(join(dir, 'loop-b.mp4'), join(dir, 'loop-a.mp4'));
  symlinkSync(join(dir, 'loop-a.mp4'), join(dir, 'loop-b.mp4'));
  mkdirSync(join(dir, 'folder.mp4'));
});

function deps(db: Db): ImportDeps {
  return { db, ffmpeg: async () => ffmpeg, thumbnailPath: (id) => join(dir, 'thumbs', `${db.name.length}-${id}.jpg`) };
}

const freshDb = () => openDatabase(join(mkdtempSync(join(dir, 'db-')), 'studio.db'));
const stored = (db: Db) => db.prepare('SELECT row_id AS id, line, line_index AS lineIndex FROM prompts ORDER BY line, line_index').all();

describe('importDataset', () => {
  it("imports a JSON array written on one line (Python's json.dump), knowing each row by its place on the line", async () => {
    const rows = [
      { id: 'x', video: 'a.mp4', question: 'First?' },
      { id: 'y', video: 'a.mp4', question: '' },
      { id: 'z', video: 'a.mp4', question: 'Third?' },
    ];
    const file = join(dir, 'dump.json');
    writeFileSync(file, JSON.stringify(rows));
    const db = freshDb();
    const first = await importDataset(deps(db), { path: file }, quiet);
    expect(first).toMatchObject({ imported: 2, failed: 1, skipped: 0 });
    expect(stored(db)).toEqual([{ id: 'x', line: 1, lineIndex: 0 }, { id: 'z', line: 1, lineIndex: 2 }]);
    expect(listIssues(db, first.datasetId).map((i) => i.message)).toEqual(['line 1 (row 2 of 3 on it): question is empty']);
    // Resuming knows the rows stored by their place, not by the line they share.
    const again = await importDataset(deps(db), { path: file }, quiet);
    expect(again).toMatchObject({ datasetId: first.datasetId, imported: 0, skipped: 2, failed: 1 });
    expect(stored(db)).toHaveLength(2);
  });

  it('stores every row and issue once when two imports of the same file run at once on two connections', async () => {
    const file = join(dir, 'twice.jsonl');
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify(i % 10 === 9 ? { id: i, video: 'missing.mp4', question: 'q' } : { id: i, video: 'a.mp4', question: `Question ${i}?` }));
    writeFileSync(file, lines.join('\n'));
    const path = join(mkdtempSync(join(dir, 'db-')), 'studio.db');
    const [one, two] = [openDatabase(path), openDatabase(path)];
    const results = await Promise.all([importDataset(deps(one), { path: file }, quiet), importDataset(deps(two), { path: file }, quiet)]);
    expect(results[0].datasetId).toBe(results[1].datasetId);
    expect(one.prepare('SELECT COUNT(*) FROM prompts').pluck().get()).toBe(36);
    expect(one.prepare('SELECT COUNT(*) FROM import_issues').pluck().get()).toBe(4);
    expect(one.prepare("SELECT status FROM datasets").pluck().all()).toEqual(['ready']);
    expect(one.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  it('rejects, one row each and by line, videos that cannot be decoded or reached, and imports the rest, a one-frame clip included', async () => {
    const videos = ['one-frame.mp4', 'half.mp4', 'quarter.mp4', `${'v'.repeat(300)}.mp4`, 'loop-a.mp4', 'folder.mp4', 'duration-zero.mp4', 'duration-huge.mp4', 'noise.mp4'];
    const file = join(dir, 'videos.jsonl');
    writeFileSync(file, videos.map((video, i) => JSON.stringify({ id: i + 1, video, question: 'What is shown?' })).join('\n'));
    const db = freshDb();
    const result = await importDataset(deps(db), { path: file }, quiet);
    expect(stored(db).map((r) => (r as { id: string }).id)).toEqual(['1', '9']);
    const issues = listIssues(db, result.datasetId);
    expect(issues.map((i) => [i.line, i.field])).toEqual([2, 3, 4, 5, 6, 7, 8].map((line) => [line, 'video']));
    const [half, quarter, long, loop, folder, zero, huge] = issues.map((i) => i.message);
    // Their header (at the start: +faststart) still promises 4 s.
    expect(half).toMatch(/^line 2: video .*half\.mp4 cannot be decoded to its end \(no frame at 3\.88 s of the 4\.00 s its header gives\): the file is cut short, or its duration field is wrong$/);
    expect(quarter).toMatch(/^line 3: video .*quarter\.mp4 cannot be decoded to its end/);
    expect(long).toMatch(/^line 4: video file path is too long for the file system \(\d+ bytes\)/);
    expect(loop).toMatch(/^line 5: video file path goes round in a loop of symbolic links: .*loop-a\.mp4$/);
    expect(folder).toMatch(/^line 6: video path is not a file: .*folder\.mp4$/);
    expect(zero).toMatch(/^line 7: .*duration-zero\.mp4 is not a video ffmpeg can read: duration is zero$/);
    expect(huge).toMatch(/^line 8: video .*duration-huge\.mp4 cannot be decoded to its end \(no frame at \d+\.\d+ s of the 4294967\.30 s its header gives\)/);
    for (const m of issues.map((i) => i.message)) expect(m).not.toMatch(/ENOENT|ENAMETOOLONG|ELOOP|partial/);
  });

  it('keeps each issue and the error on one line when a path or id holds a newline or a control character', async () => {
    const file = join(dir, 'controls.jsonl');
    writeFileSync(file, [
      JSON.stringify({ id: 'r1', video: 'a.mp4', question: 'Fine?' }),
      JSON.stringify({ id: 'r2', video: 'new\nline.mp4', question: 'q' }),
      JSON.stringify({ id: 'r\n1', video: 'a.mp4', question: 'q' }),
      JSON.stringify({ id: 'r\n1', video: 'a.mp4', question: 'again' }),
      JSON.stringify({ id: 'r5', video: 'esc\u001b[31m.mp4', question: 'q' }),
    ].join('\n'));
    const db = freshDb();
    const result = await importDataset(deps(db), { path: file }, quiet);
    expect(result).toMatchObject({ imported: 2, failed: 3 });
    expect(listIssues(db, result.datasetId).map((i) => i.message)).toEqual([
      `line 2: video file not found: ${join(dir, 'new\\nline.mp4')}`,
      'line 4: id "r\\n1" is already used on line 3',
      `line 5: video file not found: ${join(dir, 'esc\\u001b[31m.mp4')}`,
    ]);
    const none = join(dir, 'controls-none.jsonl');
    writeFileSync(none, JSON.stringify({ id: 'x', video: 'gone\r\n.mp4', question: 'q' }));
    const err = await importDataset(deps(freshDb()), { path: none }, quiet).catch((e: unknown) => e as Error);
    expect((err as Error).message).toBe(`${none}: no row could be imported (1 rejected): line 1: video file not found: ${join(dir, 'gone\\r\\n.mp4')}`);
  });

  it('refuses a file that is no dataset without echoing its contents', async () => {
    const file = join(dir, 'passwd');
    writeFileSync(file, 'root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n');
    const err = await importDataset(deps(freshDb()), { path: file }, quiet).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(`${file} is not a dataset file: none of its 2 lines or elements is JSON (expected JSON Lines or a JSON array of rows)`);
  });
});
