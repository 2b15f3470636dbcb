import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../video/ffmpeg';
import { writeDemoData } from './data/write';
import { demoModelDefaults, trainDemoModel, warmStartNote, type DemoModelOptions } from './demo-model';

let dir: string;
let options: Omit<DemoModelOptions, 'out' | 'readingSettle'>;
let testQuestions: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-demo-model-'));
  const ffmpeg = (await resolveFfmpeg()).path;
  const data = join(dir, 'demo');
  testQuestions = (await writeDemoData(ffmpeg, data, { videos: 4, testClips: 2, seed: 5 })).testRows;
  options = {
    ...demoModelDefaults, data, size: 'tiny', epochs: 1, frames: 2, readingMatch: 2, readingJudge: 3, ffmpeg, cacheDir: join(dir, 'cache'),
  };
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').length;

describe('demo-model', () => {
  it('trains the reading stages, the video stage and the settling stage in order, and measures the judge by what it sees', async () => {
    const out = join(dir, 'model');
    const r = await trainDemoModel({ ...options, out, readingSettle: 2 });
    expect(r.readingSteps).toEqual({ match: 2, judge: 3, settle: 2 });
    // Three draws of distractors per held-out question, once with the clip's description and once without.
    expect(r.judge.description.judged).toBe(3 * testQuestions);
    expect(r.judge.video.judged).toBe(3 * testQuestions);
    for (const j of Object.values(r.judge)) {
      // Shares of whole counts of items.
      expect(j.accuracy * j.judged).toBeCloseTo(Math.round(j.accuracy * j.judged), 9);
      expect(j.decided * j.judged).toBeCloseTo(Math.round(j.decided * j.judged), 9);
      expect(j.accuracy).toBeGreaterThanOrEqual(0);
      expect(j.accuracy).toBeLessThanOrEqual(1);
    }
    const work = join(out, 'training');
    const summary = JSON.parse(readFileSync(join(work, 'summary.json'), 'utf8'));
    expect(summary.settings.match).toMatchObject({ schedule: 'constant', lr: options.lr });
    expect(summary.settings.judge).toMatchObject({ schedule: 'cosine', lr: options.lr });
    expect(summary.settings.video).toMatchObject({ schedule: 'cosine', lr: options.videoLr });
    expect(summary.settings.settle).toMatchObject({ schedule: 'constant', lr: 0.4 * options.lr });
    expect(summary.judge).toEqual(r.judge);
    // The settling stage starts from the video stage's merged model and writes the model folder.
    expect(existsSync(join(work, 'video', 'model', 'model.safetensors'))).toBe(true);
    expect(lines(join(work, 'reading-settle', 'metrics.jsonl'))).toBe(2);
    const note = warmStartNote(out);
    expect(note).toContain('then 2 reading steps at a lower rate');
    expect(note).toContain(`of ${3 * testQuestions} held-out judge items with the clip's description`);
    expect(note).toContain(`of ${3 * testQuestions} held-out judge items with the video alone`);

    // Run again: every stage is finished, so nothing is trained twice.
    const again = await trainDemoModel({ ...options, out, readingSettle: 2 });
    expect(again.readingSteps).toEqual(r.readingSteps);
    expect(lines(join(work, 'video', 'metrics.jsonl'))).toBe(r.steps);
    expect(again.judge).toEqual(r.judge);
  }, 300_000);

  it('without the settling stage, the video stage writes the model folder', async () => {
    const out = join(dir, 'unsettled');
    const r = await trainDemoModel({ ...options, out, readingSettle: 0 });
    expect(r.readingSteps.settle).toBe(0);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
    expect(existsSync(join(out, 'training', 'video', 'model'))).toBe(false);
    expect(existsSync(join(out, 'training', 'reading-settle'))).toBe(false);
    expect(warmStartNote(out)).not.toContain('at a lower rate');
  }, 300_000);
});
