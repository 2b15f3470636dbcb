// Beyond one machine, end to end (issue 27): a run hands its round's sampling and training outside
// the studio; the responses and an adapter come back through the CLI, the run finishes, and the
// History screen in Chromium marks the round as sampled and trained outside, saying from where.
// Screenshots of History at 1280x800 and 1920x1080 are kept with the test's results.
import { expect, test } from '@playwright/test';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, serve, type Served } from './serve';

const sizes = [{ width: 1280, height: 800 }, { width: 1920, height: 1080 }];
const settings = { samples: 2, maxNewTokens: 6, contextTokens: 8, frames: 2, tieBand: [0.5, 0.5], train: { epochs: 1, batchSize: 2, lr: 0.01, loraR: 2, loraAlpha: 4 }, evaluation: { maxNewTokens: 4 } };

let served: Served;
let dir: string;
let db: string;

test.beforeAll(async () => {
  test.setTimeout(300_000);
  dir = mkdtempSync(join(tmpdir(), 'isr-e2e-outside-'));
  db = join(dir, 'studio.db');
  cli('demo-data', '--out', join(dir, 'demo'), '--videos', '3', '--seed', '5');
  cli('fixture', '--arch', 'llava-onevision', '--out', join(dir, 'model'), '--seed', '6');
  const run = (name: string, over: object) => {
    writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...settings, ...over }));
    return cli('run', '--db', db, '--model', join(dir, 'model'), '--data', join(dir, 'demo', 'train.jsonl'), '--eval-data', join(dir, 'demo', 'test.jsonl'), '--rounds', '1', '--config', join(dir, `${name}.json`));
  };
  // Run 1 does its round in the studio; its adapter is what run 2's "cluster" brings back.
  run('studio', {});
  expect(run('outside', { outside: { responses: true, training: true } })).toContain('round 1 awaits its responses from outside the studio');
  cli('export', '--db', db, '--run', '2', '--round', '1', '--format', 'vllm-job', '--out', join(dir, 'vllm'));
  const prompts = readFileSync(join(dir, 'vllm', 'prompts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { prompt_id: number; seed: number });
  writeFileSync(join(dir, 'vllm', 'responses.jsonl'), prompts.flatMap((p) => [0, 1].map((sample) => JSON.stringify({ prompt_id: p.prompt_id, sample, text: sample === 0 ? 'red' : 'the red square moves left', seed: p.seed }))).join('\n'));
  cli('import-responses', '--db', db, '--run', '2', '--round', '1', '--file', join(dir, 'vllm', 'responses.jsonl'));
  expect(cli('run', '--db', db, '--resume', '2')).toContain('round 1 awaits its training from outside the studio');
  cli('export', '--db', db, '--run', '2', '--round', '1', '--format', 'trl-job', '--out', join(dir, 'trl'), '--no-copy-videos', '--no-copy-model');
  cli('import-adapter', '--db', db, '--run', '2', '--round', '1', '--adapter', `${db}.runs/run-1/round-1/adapter`);
  expect(cli('run', '--db', db, '--resume', '2')).toContain('run 2 done: 1 round\n');
  served = await serve(db);
});

test.afterAll(async () => void (await served?.stop()));

test('History marks the round sampled and trained outside the studio', async ({ page }) => {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  await page.setViewportSize(sizes[0]);
  await page.goto(`${served.url.replace(/#.*$/, '')}#history?run=2`);
  const table = page.getByRole('table', { name: 'Runs and rounds' });
  await expect(table).toBeVisible();
  const row = (run: number, round: number) => table.locator('tbody tr').filter({ has: page.locator(`td:nth-child(1):text-is("${run}")`) }).filter({ has: page.locator(`td:nth-child(4):text-is("${round}")`) });
  await expect(row(2, 1).locator('.outside')).toHaveText(['sampled', 'trained']);
  await expect(row(2, 1).locator('.outside').first()).toHaveAttribute('title', new RegExp(`^Responses sampled outside the studio, imported .* from ${join(dir, 'vllm', 'responses.jsonl')}$`));
  await expect(row(2, 1).locator('.outside').nth(1)).toHaveAttribute('title', new RegExp(`from ${db}\\.runs/run-1/round-1/adapter$`));
  await expect(row(1, 1).locator('td.where')).toHaveText('–');
  for (const size of sizes) {
    await page.setViewportSize(size);
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `history at ${size.width}`).toBe(true);
    await page.screenshot({ path: test.info().outputPath(`history-outside-${size.width}x${size.height}.png`) });
  }
  expect(problems).toEqual([]);
});
