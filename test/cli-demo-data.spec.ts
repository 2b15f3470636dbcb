import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../src/main/video/ffmpeg';
import { frameAt, type RgbFrame } from '../src/main/video/frames';
import { probeVideo } from '../src/main/video/probe';
import { runCli } from './cli';

interface Row {
  id: string;
  video: string;
  question: string;
  answer: string;
}
interface Clip {
  clip: string;
  video: string;
  split: 'train' | 'test';
  width: number;
  height: number;
  fps: number;
  frameCount: number;
  background: number[];
  shapes: Array<{ kind: string; colour: string; rgb: number[]; appearsAt: number; start: { x: number; y: number }; end: { x: number; y: number } }>;
  caption: string;
}

const jsonl = <T>(path: string): T[] =>
  readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

const hashes = (dir: string) =>
  Object.fromEntries(
    ['train.jsonl', 'test.jsonl', 'clips.jsonl', ...readdirSync(join(dir, 'videos')).map((f) => `videos/${f}`)].map((f) => [
      f,
      createHash('sha256').update(readFileSync(join(dir, f))).digest('hex'),
    ]),
  );

let root: string;
let out: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'isr-demo-'));
  out = join(root, 'a');
  const { code, stdout, stderr } = await runCli(['demo-data', '--out', out, '--videos', '8', '--seed', '5']);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(stdout).toMatch(/wrote 8 clips/);
});

describe('isr-studio demo-data', () => {
  it('writes train and test rows {id, video, question, answer} whose videos exist relative to the file', () => {
    const train = jsonl<Row>(join(out, 'train.jsonl'));
    const test = jsonl<Row>(join(out, 'test.jsonl'));
    expect(train.length).toBeGreaterThan(test.length);
    expect(test.length).toBeGreaterThan(0);
    for (const row of [...train, ...test]) {
      expect(Object.keys(row).sort()).toEqual(['answer', 'id', 'question', 'video']);
      expect(existsSync(join(out, row.video))).toBe(true);
      expect(row.answer).toMatch(/^[a-z0-9]+$/);
    }
    // No clip is in both splits.
    const clipsOf = (rows: Row[]) => new Set(rows.map((r) => r.video));
    expect([...clipsOf(train)].filter((v) => clipsOf(test).has(v))).toEqual([]);
  });

  it('asks the same question of different clips and gets different answers', () => {
    const rows = [...jsonl<Row>(join(out, 'train.jsonl')), ...jsonl<Row>(join(out, 'test.jsonl'))];
    const count = rows.filter((r) => r.question === 'How many shapes are in the video?');
    expect(count).toHaveLength(8);
    expect(new Set(count.map((r) => r.answer)).size).toBeGreaterThan(1);
  });

  it('encodes clips whose frames show the ground truth of clips.jsonl', async () => {
    const ffmpeg = (await resolveFfmpeg()).path;
    const clips = jsonl<Clip>(join(out, 'clips.jsonl'));
    expect(clips).toHaveLength(8);
    for (const clip of clips) {
      const path = join(out, clip.video);
      const info = await probeVideo(ffmpeg, path);
      expect(info).toMatchObject({ width: clip.width, height: clip.height, fps: clip.fps });
      expect(info.durationS).toBeCloseTo(clip.frameCount / clip.fps, 1);
      expect(clip.caption).toContain(`${clip.shapes[0].colour} ${clip.shapes[0].kind}`);

      const first = await frameAt(ffmpeg, path, 0);
      const last = await frameAt(ffmpeg, path, (clip.frameCount - 1.25) / clip.fps);
      expect([first.width, first.height]).toEqual([clip.width, clip.height]);
      const at = (f: RgbFrame, p: { x: number; y: number }) => [...f.data.subarray((p.y * f.width + p.x) * 3, (p.y * f.width + p.x) * 3 + 3)];
      const near = (got: number[], want: number[]) => got.every((g, i) => Math.abs(g - want[i]) <= 40);
      // Frame 0 shows the first shape where it starts; the last frame the topmost shape where it ends.
      expect(near(at(first, clip.shapes[0].start), clip.shapes[0].rgb), `${clip.clip} first frame`).toBe(true);
      const top = clip.shapes.at(-1)!;
      expect(near(at(last, top.end), top.rgb), `${clip.clip} last frame`).toBe(true);
      // A corner is background: shapes never reach the edges.
      expect(near(at(first, { x: 0, y: 0 }), clip.background)).toBe(true);
    }
  });

  it('is deterministic for a seed and different for another', async () => {
    const again = join(root, 'b');
    const other = join(root, 'c');
    expect((await runCli(['demo-data', '--out', again, '--videos', '8', '--seed', '5'])).code).toBe(0);
    expect(hashes(again)).toEqual(hashes(out));
    expect((await runCli(['demo-data', '--out', other, '--videos', '8', '--seed', '6'])).code).toBe(0);
    expect(hashes(other)['train.jsonl']).not.toBe(hashes(out)['train.jsonl']);
  });

  it('imports cleanly into a studio database', async () => {
    const db = join(root, 'demo.db');
    const { code, stdout } = await runCli(['import', '--db', db, '--data', join(out, 'train.jsonl')]);
    expect(code).toBe(0);
    const rows = jsonl<Row>(join(out, 'train.jsonl')).length;
    expect(stdout).toContain(`${rows} rows imported, 0 already there, 0 rejected`);
  });

  it('holds out as many clips as --test-clips asks, the same clips and questions otherwise', async () => {
    const held = join(root, 'held');
    expect((await runCli(['demo-data', '--out', held, '--videos', '8', '--seed', '5', '--test-clips', '3'])).code).toBe(0);
    const clips = jsonl<Clip>(join(held, 'clips.jsonl'));
    expect(clips.map((c) => c.split)).toEqual([...Array(5).fill('train'), ...Array(3).fill('test')]);
    const rows = [...jsonl<Row>(join(held, 'train.jsonl')), ...jsonl<Row>(join(held, 'test.jsonl'))];
    expect(rows).toEqual([...jsonl<Row>(join(out, 'train.jsonl')), ...jsonl<Row>(join(out, 'test.jsonl'))]);
    const tooMany = await runCli(['demo-data', '--out', join(root, 'e'), '--videos', '2', '--test-clips', '3']);
    expect(tooMany.code).not.toBe(0);
    expect(tooMany.stderr).toContain('--test-clips 3 is more than the 2 clips (--videos)');
  });

  it('rejects a clip count below one', async () => {
    const { code, stderr } = await runCli(['demo-data', '--out', join(root, 'd'), '--videos', '0']);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/--videos.*at least 1/);
  });
});
