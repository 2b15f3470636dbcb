import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveFfmpeg } from '../video/ffmpeg';
import { writeDemoData } from './data/write';
import { demoModelDefaults, trainDemoModel, warmStartNote, type DemoModelOptions } from './demo-model';

let dir: string;
let options: Omit<DemoModelOptions, 'out' | 'readingSettle'>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-demo-model-'));
  const ffmpeg = (await resolveFfmpeg()).path;
  const data = join(dir, 'demo');
  await writeDemoData(ffmpeg, data, { videos: 4, testClips: 2, seed: 5 });
  options = {
    ...demoModelDefaults, data, size: 'tiny', epochs: 1, frames: 2, readingMatch: 2, readingJudge: 3, pretrainingClips: 0, ffmpeg, cacheDir: join(dir, 'cache'),
  };
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The four stages, the held-out figures and the resume run end to end in test/cli-experiment.spec.ts.
describe('demo-model', () => {
  it('without the settling stage, the video stage writes the model folder', async () => {
    const out = join(dir, 'unsettled');
    const r = await trainDemoModel({ ...options, out, readingSettle: 0 });
    expect(r.readingSteps).toEqual({ match: 2, judge: 3, settle: 0 });
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
    expect(readFileSync(join(out, 'training', 'video', 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(r.steps);
    expect(existsSync(join(out, 'training', 'video', 'model'))).toBe(false);
    expect(existsSync(join(out, 'training', 'reading-settle'))).toBe(false);
    expect(warmStartNote(out)).toMatch(/then \d+ SFT steps on \d+ items\): held-out accuracy/);
  }, 300_000);
});
