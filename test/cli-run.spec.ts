import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, startCli } from './cli';
import { runContents as contents } from './run-contents';

let dir: string;
let model: string;
const config = { samples: 2, maxNewTokens: 8, contextTokens: 12, frames: 2, tieBand: [0.5, 0.5], train: { epochs: 1, batchSize: 2, lr: 0.01, loraR: 4, loraAlpha: 8 }, evaluation: { maxNewTokens: 6 } };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-cli-run-'));
  model = join(dir, 'model');
  expect((await runCli(['demo-data', '--out', join(dir, 'demo'), '--videos', '4', '--seed', '2'])).code).toBe(0);
  expect((await runCli(['fixture', '--arch', 'llava-onevision', '--out', model, '--seed', '4'])).code).toBe(0);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
}, 120_000);

const run = (db: string, mode: string, ...extra: string[]) => ['run', '--db', db, '--model', model, '--data', join(dir, 'demo/train.jsonl'), '--eval-data', join(dir, 'demo/test.jsonl'),
  '--rounds', '2', '--mode', mode, '--config', join(dir, 'config.json'), ...extra];

function hasRun(path: string): boolean {
  if (!existsSync(path)) return false;
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'runs'").pluck().get() as number) > 0 && (db.prepare('SELECT COUNT(*) FROM runs').pluck().get() as number) > 0;
  } finally {
    db.close();
  }
}

describe('isr-studio run', () => {
  let whole: ReturnType<typeof contents>;
  let wholeLines = 0;

  it('runs two isr rounds and stores every intermediate result; round 2 starts from round 1 output', async () => {
    const db = join(dir, 'whole.db');
    const result = await runCli(run(db, 'isr'));
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')[0]).toBe('run 1');
    wholeLines = result.stdout.split('\n').length - 1;
    expect(result.stdout).toMatch(/round 1 done: \d+ pairs? trained on, \d+ ties?, \d+ steps?, held-out accuracy/);
    whole = contents(db);
    const prompts = 11;
    const videos = 3;
    expect(whole.rounds.map((r) => (r as { round: number }).round)).toEqual([0, 1, 2]);
    const [, r1, r2] = whole.rounds as { policy_model_id: number; output_model_id: number }[];
    expect(r2.policy_model_id).toBe(r1.output_model_id);
    expect(r1.output_model_id).not.toBe(r1.policy_model_id);
    expect(whole.responses).toHaveLength(2 * prompts * 2);
    expect(whole.contexts).toHaveLength(2 * videos);
    // Round 1 describes each video afresh; round 2 refines round 1's description.
    expect(whole.contexts.map((c) => (c as { round: number; refined: number }).refined)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(whole.judgments).toHaveLength(2 * prompts * 2);
    for (const j of whole.judgments as { p: number; with_context: number; with_attention: number }[]) {
      expect(j.p).toBeGreaterThan(0);
      expect(j.p).toBeLessThan(1);
      expect(j.with_context).toBe(1);
      expect(j.with_attention).toBe(1);
    }
    expect(whole.pairs).toHaveLength(2 * prompts);
    expect(whole.steps.length).toBeGreaterThan(0);
    expect(whole.evaluations).toHaveLength(3 * 4);
    const exported = join(dir, 'pairs.jsonl');
    const out = await runCli(['export', '--db', db, '--run', '1', '--round', '1', '--format', 'trl-dpo', '--out', exported]);
    expect(out.code).toBe(0);
    const rows = readFileSync(exported, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows.length).toBe(prompts);
    expect(Object.keys(rows[0]).sort()).toEqual(['chosen', 'pair_id', 'prompt', 'rejected', 'video']);
  }, 180_000);

  it('resumes after kill -9 at random moments and ends with exactly what an uninterrupted run stores', async () => {
    const db = join(dir, 'killed.db');
    let args = run(db, 'isr');
    let killed = 0;
    for (let attempt = 0; attempt < 8 && killed < 3; attempt++) {
      // Killed after a random number of output lines: at a random phase of a random round (a resumed
      // run prints only what is left, so its kills come within its first lines).
      const after = 1 + Math.floor(Math.random() * (attempt === 0 ? Math.max(1, wholeLines - 4) : 4));
      const { child, done } = startCli(args);
      let lines = 0;
      child.stdout?.on('data', (b: Buffer) => {
        lines += b.toString().split('\n').length - 1;
        if (lines >= after) child.kill('SIGKILL');
      });
      if ((await done).code === null) killed++;
      // A kill before the run was stored leaves nothing to resume: then it starts again.
      if (hasRun(db)) args = ['run', '--db', db, '--resume', '1'];
    }
    expect(killed).toBeGreaterThanOrEqual(2);
    const last = await runCli(args);
    expect(last.stderr).toBe('');
    expect(last.code).toBe(0);
    const resumed = contents(db);
    expect(resumed.integrity).toBe('ok');
    const { rounds: _a, ...items } = resumed;
    const { rounds: _b, ...expected } = whole;
    expect(items).toEqual(expected);
  }, 240_000);

  it('shows the judge only what its mode allows', async () => {
    for (const [mode, context, attention] of [['text-judge', 0, 0], ['no-context', 0, 1], ['no-retrospect', 1, 1]] as const) {
      const db = join(dir, `${mode}.db`);
      expect((await runCli(run(db, mode, '--rounds', '1'))).code).toBe(0);
      const c = contents(db);
      for (const j of c.judgments as { with_context: number; with_attention: number }[]) expect([mode, j.with_context, j.with_attention]).toEqual([mode, context, attention]);
      const refined = (c.contexts as { refined: number }[]).map((x) => x.refined);
      expect(refined.every((r) => r === 0)).toBe(true);
      expect(c.contexts.length > 0).toBe(mode === 'no-retrospect');
    }
  }, 240_000);

  it('validates settings before anything starts, naming the setting', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ samples: 1, train: { beta: -1 } }));
    const result = await runCli(['run', '--db', join(dir, 'bad.db'), '--model', model, '--data', join(dir, 'demo/train.jsonl'), '--rounds', '1', '--config', join(dir, 'bad.json')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('samples');
    expect(result.stderr).toContain('train.beta');
    // Named with its file, and checked before the dataset is imported: the database holds none.
    expect(result.stderr).toContain(`isr-studio: run settings ${join(dir, 'bad.json')}: `);
    const db = new Database(join(dir, 'bad.db'), { readonly: true });
    expect(db.prepare('SELECT COUNT(*) FROM datasets').pluck().get()).toBe(0);
    db.close();
  });

  it('reads a --config file that starts with a byte-order mark, as dataset files may', async () => {
    writeFileSync(join(dir, 'bom.json'), `\uFEFF${JSON.stringify({ samples: 1 })}`);
    const result = await runCli(['run', '--db', join(dir, 'bom.db'), '--model', model, '--data', join(dir, 'demo/train.jsonl'), '--rounds', '1', '--config', join(dir, 'bom.json')]);
    expect(result.code).not.toBe(0);
    // Parsed: the setting's own check speaks, not JSON.parse.
    expect(result.stderr).toMatch(/samples/);
    expect(result.stderr).not.toMatch(/JSON/);
  });
});
