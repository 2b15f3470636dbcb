// People in the loop, end to end in Chromium against `isr-studio serve` (issue 22): a two-round run
// with review before training stops after round 1's pairs; a person gives three verdicts with the
// keyboard (one reversing the judge, one "both bad", one agreeing); "Train round 1" trains on them
// (checked in SQLite: the reversed pair trained the other way round, the dropped one not at all);
// round 2 stops for review in turn; History shows the judge's agreement with kappa. A screenshot of
// every screen at 1280x800 and 1920x1080 is kept with the test's results.
import { expect, test, type Page } from '@playwright/test';
import Database from 'better-sqlite3';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, serve, type Served } from './serve';

const sizes = [{ width: 1280, height: 800 }, { width: 1920, height: 1080 }];

let served: Served;
let db: string;
let dir: string;

test.beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'isr-e2e-review-'));
  db = join(dir, 'studio.db');
  cli('demo-data', '--out', join(dir, 'demo'), '--videos', '3', '--seed', '5');
  cli('fixture', '--arch', 'idefics3', '--out', join(dir, 'model'), '--seed', '6');
  served = await serve(db);
});

test.afterAll(async () => void (await served.stop()));

/** Screenshots of the page at both window sizes, kept with the test's results. */
async function shots(page: Page, name: string): Promise<void> {
  for (const size of sizes) {
    await page.setViewportSize(size);
    // Nothing may scroll sideways at either size.
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `${name} at ${size.width}`).toBe(true);
    await page.screenshot({ path: test.info().outputPath(`${name}-${size.width}x${size.height}.png`) });
  }
  await page.setViewportSize(sizes[0]);
}

const query = <T>(sql: string, ...params: unknown[]): T[] => {
  const handle = new Database(db, { readonly: true });
  try {
    return handle.prepare(sql).all(...params) as T[];
  } finally {
    handle.close();
  }
};

test('a run stops for review; people\'s verdicts train its round; the judge is measured against them', async ({ page }) => {
  test.setTimeout(300_000);
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(err.message));
  await page.setViewportSize(sizes[0]);
  await page.goto(served.url);

  await page.getByLabel(/Dataset file/).fill(join(dir, 'demo', 'train.jsonl'));
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page.getByTestId('import-status')).toContainText('rows imported');
  await shots(page, 'datasets');

  // Launch two rounds with review before training; a zero-width tie band keeps a random model's pairs.
  await page.getByRole('link', { name: 'Rounds', exact: true }).click();
  await page.getByLabel('Model folder').fill(join(dir, 'model'));
  await page.getByLabel('Training prompts').selectOption({ index: 1 });
  await page.getByRole('spinbutton', { name: 'Rounds', exact: true }).fill('2');
  await page.locator('select[name="review"]').selectOption('before-training');
  await page.getByLabel('Frames', { exact: true }).fill('2');
  await page.getByLabel('Response tokens').fill('6');
  await page.getByLabel('Context tokens').fill('8');
  await page.getByLabel('Epochs').fill('1');
  await page.getByLabel('LoRA rank').fill('2');
  await page.getByLabel('LoRA alpha').fill('4');
  await page.getByLabel('Tie band from').fill('0.5');
  await page.getByLabel('to', { exact: true }).fill('0.5');
  await page.getByRole('button', { name: 'Launch run' }).click();
  await expect(page.getByRole('cell', { name: 'awaits review of round 1' })).toBeVisible({ timeout: 120_000 });
  await shots(page, 'rounds-awaiting-review');

  // Review opens on the round awaiting review, least sure first.
  await page.getByRole('link', { name: 'Review', exact: true }).click();
  await expect(page.getByText('Round 1 awaits review.')).toBeVisible();
  await expect(page.getByTestId('pair-position')).toHaveText(/^Pair 1 of \d+$/);
  const pairId = async () => Number(await page.getByRole('article', { name: 'Pair' }).getAttribute('data-pair-id'));
  const judged = (id: number) => query<{ judge: string }>('SELECT judge_choice AS judge FROM pairs WHERE id = ?', id)[0].judge;

  const reversed = await pairId();
  const reverse = judged(reversed) === 'a' ? 'b' : 'a';
  await page.keyboard.press(reverse);
  await expect(page.getByTestId('pair-position')).toHaveText(/^Pair 2 of /);
  const dropped = await pairId();
  await page.keyboard.press('x');
  await expect(page.getByTestId('pair-position')).toHaveText(/^Pair 3 of /);
  const agreed = await pairId();
  const judge = judged(agreed);
  await page.keyboard.press(judge === 'tie' ? 't' : judge);
  await expect(page.getByTestId('pair-position')).toHaveText(/^Pair 4 of /);
  // Undo puts back what was there before (no verdict) and selects that pair again; then it is given again.
  await page.keyboard.press('u');
  await expect(page.getByTestId('pair-position')).toHaveText(/^Pair 3 of /);
  await expect(page.getByTestId('override')).toHaveText('No override.');
  await page.keyboard.press(judge === 'tie' ? 't' : judge);
  await expect(page.getByTestId('pair-position')).toHaveText(/^Pair 4 of /);
  // Every verdict is kept, the undo as a 'cleared' row; the last of each pair is in force.
  expect(query<{ pair: number; choice: string }>('SELECT pair_id AS pair, choice FROM overrides ORDER BY id').map((o) => [o.pair, o.choice])).toEqual([
    [reversed, reverse], [dropped, 'both-bad'], [agreed, judge], [agreed, 'cleared'], [agreed, judge],
  ]);
  await page.keyboard.press('?');
  await shots(page, 'review-help');
  await page.keyboard.press('Escape');
  await shots(page, 'review-focus');
  await page.getByRole('button', { name: 'Bulk' }).click();
  await shots(page, 'review-bulk');
  await page.getByRole('button', { name: 'Focus' }).click();

  // "Train round 1": round 1 trains on the verdicts, then round 2 stops for review.
  await page.getByRole('button', { name: 'Train round 1' }).click();
  await expect(page.getByText('Round 2 awaits review.')).toBeVisible({ timeout: 180_000 });
  const trained = query<{ pair: number; chosenIsA: number }>(
    `SELECT t.pair_id AS pair, t.chosen_response_id = p.response_a_id AS chosenIsA FROM trained_pairs t
     JOIN pairs p ON p.id = t.pair_id JOIN rounds r ON r.id = t.round_id WHERE r.round = 1`,
  );
  expect(trained.map((t) => t.pair)).toContain(reversed);
  expect(trained.map((t) => t.pair)).not.toContain(dropped);
  expect(trained.find((t) => t.pair === reversed)!.chosenIsA === 1).toBe(reverse === 'a');
  await shots(page, 'review-round-2');

  // History: round 1's agreement with its n and kappa.
  await page.getByRole('link', { name: 'History', exact: true }).click();
  const round1 = page.getByRole('table', { name: 'Runs and rounds' }).locator('tbody tr').filter({ has: page.getByRole('cell', { name: '1', exact: true }) }).nth(0);
  await expect(round1).toContainText('(3)');
  await expect(round1.locator('td').last()).toHaveText(/^-?\d\.\d\d$/);
  await shots(page, 'history');
  expect(problems).toEqual([]);
  writeFileSync(test.info().outputPath('verdicts.json'), JSON.stringify({ reversed, dropped, agreed, trained }));
});
