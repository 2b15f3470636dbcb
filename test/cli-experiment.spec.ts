// The demo end to end at a toy size: warm start, then an ablation study of one round in two modes.
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { VideoLanguageModel } from '../src/main/engine/model/vlm';
import { VideoFeatures } from '../src/main/isr/video-features';
import { resolveFfmpeg } from '../src/main/video/ffmpeg';
import { runCli } from './cli';

let dir: string;
const config = { samples: 2, maxNewTokens: 8, contextTokens: 12, frames: 2, tieBand: [0.5, 0.5], train: { epochs: 1, batchSize: 2, lr: 0.01, loraR: 4, loraAlpha: 8 }, evaluation: { maxNewTokens: 6 } };
const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { video: string; answer: string });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-cli-experiment-'));
  expect((await runCli(['demo-data', '--out', join(dir, 'demo'), '--videos', '4', '--seed', '3'])).code).toBe(0);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
}, 120_000);

/** Normalised first word or whole text equals the reference: the report's rule, written out again. */
const right = (text: string, answer: string) => {
  const n = text.toLowerCase().replace(/[^a-z0-9 ]/g, ' ').trim().split(/\s+/);
  return n.join(' ') === answer || n[0] === answer;
};

describe('isr-studio demo-model and experiment', () => {
  const model = () => join(dir, 'model');
  const study = () => join(dir, 'study');
  const experiment = (...extra: string[]) => ['experiment', '--data', join(dir, 'demo'), '--model', model(), '--rounds', '1', '--modes', 'isr,text-judge', '--out', study(), '--config', join(dir, 'config.json'), ...extra];

  const demoModel = () => ['demo-model', '--data', join(dir, 'demo'), '--out', model(), '--size', 'tiny', '--epochs', '1', '--frames', '2', '--reading-short', '3', '--reading-full', '2'];

  it('warm-starts a fixture in three stages and prints its held-out accuracy; running again resumes instead of retraining', async () => {
    const first = await runCli(demoModel());
    expect(first.stderr).toBe('');
    const tests = lines(join(dir, 'demo/test.jsonl')).length;
    expect(first.stdout).toMatch(/^trained 3 \+ 2 reading steps, then \d+ steps on \d+ warm-start items/m);
    expect(first.stdout).toMatch(new RegExp(
      `held-out accuracy: \\d+\\.\\d% of ${tests} test questions \\(exact match\\); judge accuracy: \\d+\\.\\d% of ${2 * tests} held-out judge items, ` +
        '\\d+\\.\\d% of them outside the tie band; reading: \\d+\\.\\d% of fresh text-only judge items',
    ));
    const summary = JSON.parse(readFileSync(join(model(), 'training/summary.json'), 'utf8')) as { steps: number; readingSteps: { short: number; full: number } };
    expect(summary.readingSteps).toEqual({ short: 3, full: 2 });
    expect(summary.steps).toBeGreaterThan(0);
    // Each stage starts from the one before and moves its weights: base, short reading, full reading, video.
    const weights = ['training/base', 'training/reading-short/model', 'training/reading-full/model', '.'].map((d) => readFileSync(join(model(), d, 'model.safetensors')));
    for (let k = 1; k < weights.length; k++) expect(weights[k].equals(weights[k - 1])).toBe(false);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'preprocessor_config.json']) expect(existsSync(join(model(), f))).toBe(true);
    // The base's projector is centred: the training clips' visual tokens (image_newline aside) average zero.
    const base = await VideoLanguageModel.load(join(model(), 'training/base'));
    try {
      const features = new VideoFeatures(base, (await resolveFfmpeg()).path, join(dir, 'cache'));
      const videos = [...new Set(lines(join(dir, 'demo/train.jsonl')).map((r) => r.video))];
      const hidden = base.config.text.hiddenSize;
      const sum = new Float64Array(hidden);
      let [rows, squares] = [0, 0];
      for (const video of videos) {
        const f = await features.of(join(dir, 'demo', video), 2);
        for (let t = 0; t < f.length / hidden - 1; t++, rows++) {
          for (let h = 0; h < hidden; h++) {
            const v = f[t * hidden + h];
            sum[h] += v;
            squares += v * v;
          }
        }
      }
      // The mean token is tiny beside a typical token (float32 sums leave ~1e-6 of it).
      const meanNorm = Math.sqrt(sum.reduce((s, x) => s + (x / rows) ** 2, 0));
      expect(meanNorm).toBeLessThan(1e-4 * Math.sqrt(squares / rows));
    } finally {
      await base.release();
    }

    const again = await runCli(demoModel());
    expect(again.code).toBe(0);
    const logged = (stage: string) => readFileSync(join(model(), 'training', stage, 'metrics.jsonl'), 'utf8').trim().split('\n').length;
    expect([logged('reading-short'), logged('reading-full'), logged('video')]).toEqual([3, 2, summary.steps]);
    // Resumed, not retrained: the finished stages rewrite the same weights.
    expect(readFileSync(join(model(), 'model.safetensors')).equals(weights[3])).toBe(true);
  }, 300_000);

  it('runs each mode from the same start and writes a report whose figures the database bears out', async () => {
    const result = await runCli(experiment());
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('wrote REPORT.md, accuracy.png, answer-length.png, judge-accuracy.png, visual-share.png');
    const report = readFileSync(join(study(), 'REPORT.md'), 'utf8');
    expect(report).toContain(`- Command: \`isr-studio experiment --data ${join(dir, 'demo')} --model ${model()} --rounds 1 --modes isr,text-judge`);
    expect(report).toMatch(/- Commit: `[0-9a-f]{40}`/);
    expect(report).toContain('| round | isr | text-judge |');
    expect(report).toMatch(/- Starting policy: .*\(llava-onevision\); warm-started by `isr-studio demo-model` \(3 \+ 2 reading steps on text-only judge items .*, then \d+ SFT steps on \d+ items\): held-out accuracy .*\(\d+\.\d% outside the tie band\)/);

    const db = new Database(join(study(), 'experiment.db'), { readonly: true });
    try {
      const runs = db.prepare('SELECT id, mode FROM runs ORDER BY id').all() as { id: number; mode: string }[];
      expect(runs.map((r) => r.mode)).toEqual(['isr', 'text-judge']);
      // The same start and seed: round 1 sampled the same responses in both modes.
      const sampled = (runId: number) => db.prepare('SELECT s.prompt_id, s.sample, s.text FROM responses s JOIN rounds r ON r.id = s.round_id WHERE r.run_id = ? AND r.round = 1 ORDER BY 1, 2').all(runId);
      expect(sampled(runs[0].id)).toEqual(sampled(runs[1].id));

      const cells = runs.map((run) => {
        const rows = db.prepare(
          `SELECT p.judge_choice AS choice, p.p_a AS pA, a.text AS a, b.text AS b, q.answer FROM pairs p JOIN rounds r ON r.id = p.round_id
           JOIN responses a ON a.id = p.response_a_id JOIN responses b ON b.id = p.response_b_id JOIN prompts q ON q.id = p.prompt_id WHERE r.run_id = ? AND r.round = 1`,
        ).all(run.id) as { choice: string; pA: number; a: string; b: string; answer: string }[];
        const decided = rows.filter((p) => right(p.a, p.answer) !== right(p.b, p.answer));
        const ties = decided.filter((p) => p.choice === 'tie').length;
        const ok = decided.filter((p) => p.choice !== 'tie' && (p.choice === 'a') === right(p.a, p.answer)).length;
        const accuracy = decided.length - ties === 0 ? '–' : `${((100 * ok) / (decided.length - ties)).toFixed(1)}%`;
        const leaning = decided.filter((p) => p.pA !== 0.5);
        const leanRight = leaning.filter((p) => (p.pA > 0.5) === right(p.a, p.answer)).length;
        const lean = leaning.length === 0 ? '–' : `${((100 * leanRight) / leaning.length).toFixed(1)}%`;
        return { judge: `${accuracy} (${ok}/${decided.length - ties}; ${ties} of ${decided.length} tied)`, lean: `${lean} (${leanRight}/${leaning.length})` };
      });
      expect(report).toContain(`| 1 | ${cells[0].judge} | ${cells[1].judge} |`);
      expect(report).toContain(`| 1 | ${cells[0].lean} | ${cells[1].lean} |`);
      const heldOut = runs.map((run) => {
        const mean = db.prepare('SELECT AVG(e.score) FROM evaluations e JOIN rounds r ON r.id = e.round_id WHERE r.run_id = ? AND r.round = 1').pluck().get(run.id) as number;
        return `${(100 * mean).toFixed(1)}%`;
      });
      expect(report).toContain(`| 1 | ${heldOut[0]} | ${heldOut[1]} |`);
    } finally {
      db.close();
    }
    for (const png of ['accuracy.png', 'answer-length.png', 'judge-accuracy.png', 'visual-share.png']) {
      const bytes = readFileSync(join(study(), png));
      expect(bytes.subarray(12, 16).toString('latin1')).toBe('IHDR');
      expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([720, 440]);
    }
  }, 600_000);

  it('resumes the same study without new runs, and refuses to mix a study of other inputs into its folder', async () => {
    const again = await runCli(experiment());
    expect(again.code).toBe(0);
    const db = new Database(join(study(), 'experiment.db'), { readonly: true });
    expect(db.prepare('SELECT COUNT(*) FROM runs').pluck().get()).toBe(2);
    db.close();
    const report = () => readFileSync(join(study(), 'REPORT.md'), 'utf8');
    expect(report()).not.toContain('resumed on');
    // Pretend the study began on other code: the report names both commits, in order.
    const stateFile = join(study(), 'experiment.json');
    writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(readFileSync(stateFile, 'utf8')), code: [{ commit: 'f'.repeat(40), dirty: false }] }));
    expect((await runCli(experiment())).code).toBe(0);
    expect(report()).toMatch(new RegExp(`- Commit: \`${'f'.repeat(40)}\`, resumed on \`[0-9a-f]{40}\``));
    const other = await runCli(['experiment', '--data', join(dir, 'demo'), '--model', model(), '--rounds', '2', '--modes', 'isr', '--out', study(), '--config', join(dir, 'config.json')]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`${join(study(), 'experiment.json')} is a study with another rounds (1)`);
  }, 300_000);
});
