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
  const experiment = (...extra: string[]) => ['experiment', '--data', join(dir, 'demo'), '--model', model(), '--rounds', '1', '--modes', 'isr,text-judge', '--seeds', '1,2', '--out', study(), '--config', join(dir, 'config.json'), ...extra];

  const demoModel = () => ['demo-model', '--data', join(dir, 'demo'), '--out', model(), '--size', 'tiny', '--epochs', '1', '--frames', '2', '--reading-match', '3', '--reading-judge', '2', '--reading-settle', '2', '--pretraining-clips', '2'];

  it('warm-starts a fixture in four stages and prints its held-out accuracy; running again resumes instead of retraining', async () => {
    const first = await runCli(demoModel());
    expect(first.stderr).toBe('');
    const tests = lines(join(dir, 'demo/test.jsonl')).length;
    expect(first.stdout).toMatch(/^trained 3 \+ 2 reading steps, then \d+ steps on \d+ warm-start items \(final loss \d+\.\d+\), then 2 reading steps in \d+ s/m);
    expect(first.stdout).toMatch(/^reading-match: \d+\/3 loss \d+\.\d+(, ETA \d+ s)?$/m);
    expect(first.stdout).toMatch(new RegExp(`^held-out accuracy: \\d+\\.\\d% of ${tests} test questions \\(exact match\\)$`, 'm'));
    // Three draws of distractors per held-out question, judged with the clip's description and with the video alone.
    for (const sees of ['with the clip\'s description \\(as isr\'s judge reads it\\)', 'with the video alone \\(as no-context\'s judge reads it\\)']) {
      expect(first.stdout).toMatch(new RegExp(`^judge accuracy ${sees}: \\d+\\.\\d% of ${3 * tests} held-out judge items, \\d+\\.\\d% outside the tie band$`, 'm'));
    }
    expect(first.stdout).toMatch(/^reading: \d+\.\d% of fresh text-only judge items; prior: the longer response preferred on \d+\.\d% of held-out pairs with nothing to check$/m);
    const summary = JSON.parse(readFileSync(join(model(), 'training/summary.json'), 'utf8')) as {
      steps: number; pretrainingClips: number; readingSteps: { match: number; judge: number; settle: number }; judge: Record<string, { judged: number }>;
      settings: Record<string, { schedule: string; lr: number }>;
    };
    expect(summary.readingSteps).toEqual({ match: 3, judge: 2, settle: 2 });
    // The video stage's items: per train clip a caption and a correction, per train question an
    // answer, two judge items and a prior item; per clip the warm start rendered for itself a caption
    // and a correction, and per its question an answer; and reading items, as many as the judge items.
    const clipsOf = (data: string) => readFileSync(join(data, 'clips.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"split":"train"')).length;
    const [trainClips, trainQuestions] = [clipsOf(join(dir, 'demo')), lines(join(dir, 'demo/train.jsonl')).length];
    const rendered = join(model(), 'training/clips');
    expect([clipsOf(rendered), summary.pretrainingClips]).toEqual([2, 2]);
    const expected = 2 * trainClips + 4 * trainQuestions + 2 * 2 + lines(join(rendered, 'train.jsonl')).length + 2 * trainQuestions;
    expect(first.stdout).toContain(`steps on ${expected} warm-start items`);
    expect(summary.steps).toBeGreaterThan(0);
    expect([summary.judge.description.judged, summary.judge.video.judged]).toEqual([3 * tests, 3 * tests]);
    // The rates the stages ran at: constant for the match items, decaying for the judge items, the settling stage at 0.4 of --lr.
    expect(Object.fromEntries(Object.entries(summary.settings).map(([k, v]) => [k, [v.schedule, v.lr]]))).toEqual({
      match: ['constant', 5e-4], judge: ['cosine', 5e-4], video: ['cosine', 1e-3], settle: ['constant', 2e-4],
    });
    // Each stage starts from the one before and moves its weights: base, match reading, judge reading, video, settling.
    const weights = ['training/base', 'training/reading-match/model', 'training/reading-judge/model', 'training/video/model', '.'].map((d) => readFileSync(join(model(), d, 'model.safetensors')));
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
    expect([logged('reading-match'), logged('reading-judge'), logged('video'), logged('reading-settle')]).toEqual([3, 2, summary.steps, 2]);
    // Resumed, not retrained: the finished stages rewrite the same weights.
    expect(readFileSync(join(model(), 'model.safetensors')).equals(weights[4])).toBe(true);
  }, 300_000);

  it('runs each mode once per seed from the same start and writes a report whose figures the database bears out', async () => {
    const result = await runCli(experiment());
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('wrote REPORT.md, accuracy.png, answer-length.png, judge-accuracy.png, visual-share.png');
    const report = readFileSync(join(study(), 'REPORT.md'), 'utf8');
    expect(report).toContain(`- Command: \`isr-studio experiment --data ${join(dir, 'demo')} --model ${model()} --rounds 1 --modes isr,text-judge --seeds 1,2`);
    expect(report).toMatch(/- Commit: `[0-9a-f]{40}`/);
    expect(report).toContain('| round | isr | text-judge |');
    expect(report).toMatch(/- Starting policy: .*\(llava-onevision\); warm-started by `isr-studio demo-model` \(3 \+ 2 reading steps on text-only judge items .*, then \d+ SFT steps on \d+ items, then 2 reading steps at a lower rate\): held-out accuracy .*; judge accuracy \d+\.\d% of \d+ held-out judge items with the clip's description \(\d+\.\d% outside the tie band\), .* with the video alone/);
    expect(report).toContain('The rule, fixed before the run: reproduced when the 95% interval of the effect across seeds lies above 0');

    const db = new Database(join(study(), 'experiment.db'), { readonly: true });
    try {
      const runs = db.prepare('SELECT id, mode, settings FROM runs ORDER BY id').all() as { id: number; mode: string; settings: string }[];
      // Seed by seed: each seed's modes, then the next seed's.
      expect(runs.map((r) => [r.mode, (JSON.parse(r.settings) as { seed: number }).seed])).toEqual([['isr', 1], ['text-judge', 1], ['isr', 2], ['text-judge', 2]]);
      // The same start and seed: round 1 sampled the same responses in both modes; another seed, others.
      const sampled = (runId: number) => db.prepare('SELECT s.prompt_id, s.sample, s.text FROM responses s JOIN rounds r ON r.id = s.round_id WHERE r.run_id = ? AND r.round = 1 ORDER BY 1, 2').all(runId);
      expect(sampled(runs[0].id)).toEqual(sampled(runs[1].id));
      expect(sampled(runs[2].id)).toEqual(sampled(runs[3].id));
      expect(sampled(runs[2].id)).not.toEqual(sampled(runs[0].id));

      const judged = (runId: number) => {
        const rows = db.prepare(
          `SELECT p.judge_choice AS choice, p.p_a AS pA, a.text AS a, b.text AS b, q.answer FROM pairs p JOIN rounds r ON r.id = p.round_id
           JOIN responses a ON a.id = p.response_a_id JOIN responses b ON b.id = p.response_b_id JOIN prompts q ON q.id = p.prompt_id WHERE r.run_id = ? AND r.round = 1`,
        ).all(runId) as { choice: string; pA: number; a: string; b: string; answer: string }[];
        const decided = rows.filter((p) => right(p.a, p.answer) !== right(p.b, p.answer));
        const ties = decided.filter((p) => p.choice === 'tie').length;
        const ok = decided.filter((p) => p.choice !== 'tie' && (p.choice === 'a') === right(p.a, p.answer)).length;
        const leaning = decided.filter((p) => p.pA !== 0.5);
        return { decided: decided.length, ties, ok, leaning: leaning.length, leanRight: leaning.filter((p) => (p.pA > 0.5) === right(p.a, p.answer)).length };
      };
      const heldOut = (runId: number) => db.prepare('SELECT AVG(e.score) FROM evaluations e JOIN rounds r ON r.id = e.round_id WHERE r.run_id = ? AND r.round = 1').pluck().get(runId) as number;
      const pct = (n: number, of: number) => (of === 0 ? '–' : `${((100 * n) / of).toFixed(1)}%`);
      // Each mode's cell pools its two seeds: counts summed, accuracies averaged.
      const cells = ['isr', 'text-judge'].map((mode) => {
        const ids = runs.filter((r) => r.mode === mode).map((r) => r.id);
        const j = ids.map(judged).reduce((s, x) => ({ decided: s.decided + x.decided, ties: s.ties + x.ties, ok: s.ok + x.ok, leaning: s.leaning + x.leaning, leanRight: s.leanRight + x.leanRight }));
        return {
          judge: `${pct(j.ok, j.decided - j.ties)} (${j.ok}/${j.decided - j.ties}; ${j.ties} of ${j.decided} tied)`,
          lean: `${pct(j.leanRight, j.leaning)} (${j.leanRight}/${j.leaning})`,
          heldOut: `${(100 * (heldOut(ids[0]) + heldOut(ids[1])) / 2).toFixed(1)}%`,
        };
      });
      expect(report).toContain(`| 1 | ${cells[0].judge} | ${cells[1].judge} |`);
      expect(report).toContain(`| 1 | ${cells[0].lean} | ${cells[1].lean} |`);
      expect(report).toContain(`| 1 | ${cells[0].heldOut} | ${cells[1].heldOut} |`);
      // Claim 1's effect per seed: isr's judge accuracy minus text-judge's; the report gives each and their mean.
      const accuracy = (runId: number) => {
        const j = judged(runId);
        return j.decided - j.ties === 0 ? null : j.ok / (j.decided - j.ties);
      };
      const effects = [[0, 1], [2, 3]].map(([i, t]) => [accuracy(runs[i].id), accuracy(runs[t].id)]).filter(([x, y]) => x !== null && y !== null).map(([x, y]) => x! - y!);
      const points = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)} points`;
      if (effects.length > 0) expect(report).toContain(`Effect: isr's judge accuracy minus text-judge's, on pairs where exactly one response is right, pooled over each seed's rounds (ties left out): ${points(effects.reduce((x, y) => x + y, 0) / effects.length)}`);
      expect(report).toMatch(/Verdict: \*\*(reproduced|not reproduced|not decidable at this size)\*\*\./);
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
    expect(db.prepare('SELECT COUNT(*) FROM runs').pluck().get()).toBe(4);
    db.close();
    const report = () => readFileSync(join(study(), 'REPORT.md'), 'utf8');
    expect(report()).not.toContain('resumed on');
    // Pretend the study began on other code: the report names both commits, in order.
    const stateFile = join(study(), 'experiment.json');
    writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(readFileSync(stateFile, 'utf8')), code: [{ commit: 'f'.repeat(40), dirty: false }] }));
    expect((await runCli(experiment())).code).toBe(0);
    expect(report()).toMatch(new RegExp(`- Commit: \`${'f'.repeat(40)}\`, resumed on \`[0-9a-f]{40}\``));
    const other = await runCli(['experiment', '--data', join(dir, 'demo'), '--model', model(), '--rounds', '2', '--modes', 'isr', '--seeds', '1,2', '--out', study(), '--config', join(dir, 'config.json')]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`${join(study(), 'experiment.json')} is a study with another rounds (1)`);
  }, 300_000);
});
