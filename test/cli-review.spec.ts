// People in the loop from the command line: a run that stops for review, verdicts given with
// `isr-studio override` (by pair, for a whole round, from another tool's JSONL), then --resume.
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli';

let dir: string;
let db: string;
const config = { review: 'before-training', samples: 4, maxNewTokens: 6, contextTokens: 8, frames: 2, tieBand: [0.5, 0.5], train: { epochs: 1, batchSize: 2, lr: 0.01, loraR: 2, loraAlpha: 4 } };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-cli-review-'));
  db = join(dir, 'studio.db');
  expect((await runCli(['demo-data', '--out', join(dir, 'demo'), '--videos', '2', '--seed', '3'])).code).toBe(0);
  expect((await runCli(['fixture', '--arch', 'idefics3', '--out', join(dir, 'model'), '--seed', '2'])).code).toBe(0);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
}, 120_000);

const pairsOf = (round: number) => {
  const handle = new Database(db, { readonly: true });
  try {
    return handle.prepare('SELECT p.id, p.judge_choice AS judge FROM pairs p JOIN rounds r ON r.id = p.round_id WHERE r.round = ? ORDER BY p.id').all(round) as { id: number; judge: string }[];
  } finally {
    handle.close();
  }
};

describe('isr-studio run with review, and isr-studio override', () => {
  it('stops a round for review and exits 0 saying how to go on; verdicts by pair, by file and for all; --resume trains on them', async () => {
    const started = await runCli(['run', '--db', db, '--model', join(dir, 'model'), '--data', join(dir, 'demo/train.jsonl'), '--rounds', '1', '--config', join(dir, 'config.json')]);
    expect(started.stderr).toBe('');
    expect(started.code).toBe(0);
    expect(started.stdout).toContain('run 1: round 1 awaits review.');
    expect(started.stdout).toContain(`isr-studio run --db ${db} --resume 1`);
    const pairs = pairsOf(1);
    expect(pairs.length).toBeGreaterThanOrEqual(3);

    // Refused before anything is written: a pair of another round, a bad row, no --choice.
    const foreign = await runCli(['override', '--db', db, '--run', '1', '--round', '1', '--pair', '99999', '--choice', 'a']);
    expect([foreign.code, foreign.stderr.trim()]).toEqual([1, 'isr-studio: pair 99999 is not a pair of run 1 round 1: no verdict was written']);
    const file = join(dir, 'verdicts.jsonl');
    writeFileSync(file, `${JSON.stringify({ pair_id: pairs[1].id, choice: 'both-bad' })}\n{"pair_id": "x"}\n`);
    const badRow = await runCli(['override', '--db', db, '--run', '1', '--round', '1', '--from', file]);
    expect(badRow.stderr).toContain(`${file} line 2: "pair_id" must be a pair's id`);
    expect((await runCli(['override', '--db', db, '--run', '1', '--round', '1', '--pair', String(pairs[0].id)])).stderr).toContain('--choice is required');

    const reverse = pairs[0].judge === 'a' ? 'b' : 'a';
    const byPair = await runCli(['override', '--db', db, '--run', '1', '--round', '1', '--pair', String(pairs[0].id), '--choice', reverse, '--author', 'ana']);
    expect([byPair.code, byPair.stdout.trim()]).toEqual([0, 'recorded 1 verdict on run 1 round 1']);
    writeFileSync(file, `\uFEFF${JSON.stringify({ pair_id: pairs[1].id, choice: 'both-bad' })}\n`);
    expect((await runCli(['override', '--db', db, '--run', '1', '--round', '1', '--from', file])).stdout.trim()).toBe('recorded 1 verdict on run 1 round 1');

    const resumed = await runCli(['run', '--db', db, '--resume', '1']);
    expect(resumed.stderr).toBe('');
    expect(resumed.stdout).toMatch(new RegExp(`round 1 done: ${pairs.length - 1} pairs trained on, 0 ties, 1 dropped as both bad, \\d+ steps?, judge agreed with 0% of 2 people's verdicts`));
    expect(resumed.stdout).toContain('run 1 done: 1 round\n');

    // The export carries each pair's id, and leaves the dropped pair out.
    const out = join(dir, 'pairs.jsonl');
    expect((await runCli(['export', '--db', db, '--run', '1', '--round', '1', '--out', out])).code).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { pair_id: number });
    expect(rows.map((r) => r.pair_id)).toEqual(pairs.filter((_, i) => i !== 1).map((p) => p.id));
    // --all gives every pair of the round a verdict (here: clears them all).
    expect((await runCli(['override', '--db', db, '--run', '1', '--round', '1', '--all', '--choice', 'cleared'])).stdout.trim()).toBe(`recorded ${pairs.length} verdicts on run 1 round 1`);
  }, 180_000);
});
