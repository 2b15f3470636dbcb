// A new user's first minutes: generate demo data, import it through the UI, see the rows with
// their thumbnails and the bad row reported, then launch a one-round ISR-DPO run and watch it finish
// (computed in an engine process). Once against `isr-studio serve` in Chromium, once against the
// Electron app (its engine in a utilityProcess) where its binary exists.
import { _electron as electron, expect, test, type Page } from '@playwright/test';
import Database from 'better-sqlite3';
import { appendFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, root, serve, type Served } from './serve';


/** Demo data plus one row whose video does not exist, as the last line of the file. */
function makeDataset(): { file: string; goodRows: number; badLine: number } {
  const dir = mkdtempSync(join(tmpdir(), 'isr-e2e-'));
  cli('demo-data', '--out', dir, '--videos', '4', '--seed', '7');
  const file = join(dir, 'train.jsonl');
  const goodRows = readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  appendFileSync(file, `${JSON.stringify({ id: 'broken', video: 'clips/missing.mp4', question: 'What colour?', answer: 'red' })}\n`);
  return { file, goodRows, badLine: goodRows + 1 };
}

async function importThroughUi(page: Page, data: { file: string; goodRows: number; badLine: number }) {
  // A CSP violation or an uncaught error shows up here: the page must run clean.
  const problems: string[] = [];
  page.on('console', (message) => message.type() === 'error' && problems.push(message.text()));
  page.on('pageerror', (err) => problems.push(err.message));
  await expect(page.getByRole('navigation', { name: 'Main' })).toContainText('Datasets');
  for (const name of ['Rounds', 'Review', 'History']) await expect(page.getByRole('link', { name, exact: true })).toBeVisible();
  await page.getByLabel(/Dataset file/).fill(data.file);
  await page.getByLabel(/Name/).fill('demo');
  await page.getByRole('button', { name: 'Import' }).click();
  await expect(page.getByTestId('import-status')).toContainText(`${data.goodRows} rows imported, 0 already there, 1 rejected`);

  const rows = page.getByRole('table', { name: 'Dataset rows' }).locator('tbody tr');
  await expect(rows).toHaveCount(data.goodRows);
  const thumbs = page.getByRole('table', { name: 'Dataset rows' }).getByRole('img');
  await expect(thumbs.first()).toBeVisible();
  // Every thumbnail really loaded through the media route, not just an <img> with a broken src.
  await expect
    .poll(() => thumbs.evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0)))
    .toBe(true);
  await expect(page.getByRole('list', { name: 'Import errors' })).toContainText(`Line ${data.badLine} (video)`);
  await expect(page.getByRole('list', { name: 'Import errors' })).toContainText('video file not found');

  await page.getByRole('link', { name: 'Review', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Review' })).toBeVisible();
  expect(problems).toEqual([]);
}

/** The pid of the engine process that takes run 1 (it records it when it starts): polled while the run goes. */
async function enginePid(db: string): Promise<number> {
  const file = `${db}.runs/run-1.engine-pid`;
  while (!existsSync(file) || readFileSync(file, 'utf8') === '') await new Promise((r) => setTimeout(r, 20));
  return Number(readFileSync(file, 'utf8'));
}

/** Launches a one-round run on the imported dataset with a tiny fixture model and watches it
 *  finish, overrides a pair in Review, and sees History's charts; a screenshot of each screen is
 *  kept with the test's results (test-results/) to look at. */
async function runThroughUi(page: Page, db: string, shot: (name: string) => Promise<void>) {
  const model = join(mkdtempSync(join(tmpdir(), 'isr-e2e-model-')), 'tiny');
  cli('fixture', '--arch', 'llava-onevision', '--out', model, '--seed', '3');
  await page.getByRole('link', { name: 'Rounds', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Rounds', level: 1 })).toBeVisible();
  await page.getByLabel('Preset').selectOption({ label: 'Quick look (1 round, small LoRA)' });
  await page.getByLabel('Model folder').fill(model);
  await page.getByLabel('Training prompts').selectOption({ index: 1 });
  // A random tiny model judges near 50/50: a zero-width tie band keeps its pairs, so the round trains.
  await page.getByLabel('Tie band from').fill('0.5');
  await page.getByLabel('to', { exact: true }).fill('0.5');
  await page.getByRole('button', { name: 'Launch run' }).click();
  await expect(page.getByTestId('run-progress')).toContainText('ISR-DPO run 1: 1 round; last:', { timeout: 90_000 });
  await expect(page.getByRole('cell', { name: 'done' })).toBeVisible();
  await shot('rounds');

  // Review: override the first pair with the keyboard; the override survives a reload.
  await page.getByRole('link', { name: 'Review', exact: true }).click();
  await expect(page.getByTestId('frame-strip').getByRole('img').first()).toBeVisible();
  await expect
    .poll(() => page.getByTestId('frame-strip').getByRole('img').evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth > 0)))
    .toBe(true);
  await expect(page.getByTestId('override')).toHaveText('No override.');
  // A verdict moves on to the next pair; back on the first, it is there, and after a reload too.
  await expect(page.getByTestId('pair-position')).toHaveText(/^Pair 1 of \d+$/);
  await page.keyboard.press('b');
  await expect(page.getByTestId('pair-position')).toHaveText(/^Pair 2 of \d+$/);
  await page.keyboard.press('k');
  await expect(page.getByTestId('override')).toHaveText('Overridden: prefers B.');
  await page.reload();
  await expect(page.getByTestId('pair-position')).toHaveText(/^Pair 1 of \d+$/);
  await expect(page.getByTestId('override')).toHaveText('Overridden: prefers B.');
  const stored = new Database(db, { readonly: true });
  expect(stored.prepare('SELECT choice FROM overrides').pluck().all()).toEqual(['b']);
  stored.close();
  await shot('review');

  await page.getByRole('link', { name: 'History', exact: true }).click();
  await expect(page.getByRole('table', { name: 'Runs and rounds' }).locator('tbody tr')).toHaveCount(1);
  const charts = page.getByTestId('chart');
  await expect(charts).toHaveCount(7);
  await expect(charts.filter({ hasText: 'DPO loss' }).locator('path')).toHaveCount(1);
  await expect(charts.filter({ hasText: 'Judge visual-attention share' }).locator('circle')).toHaveCount(1);
  const download = page.waitForEvent('download');
  await charts.filter({ hasText: 'DPO loss' }).getByRole('button', { name: 'Save PNG' }).click();
  const png = await download;
  expect(png.suggestedFilename()).toBe('dpo-loss.png');
  expect(readFileSync(await png.path()).subarray(1, 4).toString()).toBe('PNG');
  await shot('history');
}

test.describe('served in Chromium', () => {
  let served: Served;
  let db: string;

  test.beforeAll(async () => {
    db = join(mkdtempSync(join(tmpdir(), 'isr-e2e-db-')), 'studio.db');
    served = await serve(db);
  });

  // SIGTERM closes the studio cleanly: the process ends by itself with status 0.
  test.afterAll(async () => expect(await served.stop()).toBe(0));

  test('imports demo data through the UI, shows rows, thumbnails and the bad row, then runs a round', async ({ page }) => {
    await page.goto(served.url);
    await importThroughUi(page, makeDataset());
    await page.screenshot({ path: test.info().outputPath('datasets.png'), fullPage: true });
    const engine = enginePid(db);
    await runThroughUi(page, db, async (name) => void (await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true })));
    // The round was computed in an engine process, not in the one serving the page.
    expect(await engine).not.toBe(served.process.pid);
  });

  test('the API refuses a page without the token', async ({ page }) => {
    const origin = new URL(served.url).origin;
    const response = await page.request.post(`${origin}/api/listDatasets`, { data: {} });
    expect(response.status()).toBe(401);
  });
});

/** The Electron binary, if this machine has one (its download is unreachable on ours). Never
 *  require('electron') to find out: that triggers the download. */
function electronBinary(): string | null {
  const pathFile = join(root, 'node_modules', 'electron', 'path.txt');
  if (!existsSync(pathFile)) return null;
  const binary = join(root, 'node_modules', 'electron', 'dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(binary) ? binary : null;
}

test.describe('the Electron app', () => {
  const binary = electronBinary();
  test.skip(!binary, 'no Electron binary in node_modules/electron/dist (its download is unreachable here); run `npm start` once where it is reachable');

  test('imports demo data through the UI, shows rows, thumbnails and the bad row, then runs a round', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'isr-e2e-electron-')), 'studio.db');
    const app = await electron.launch({
      executablePath: binary!,
      args: [join(root, 'out', 'main', 'index.js')],
      cwd: root,
      env: { ...process.env, ISR_STUDIO_DB: db },
    });
    try {
      const page = await app.firstWindow();
      await importThroughUi(page, makeDataset());
      const engine = enginePid(db);
      await runThroughUi(page, db, async (name) => void (await page.screenshot({ path: test.info().outputPath(`electron-${name}.png`) })));
      // The round was computed in the engine's utilityProcess, not in Electron's main process.
      expect(await engine).not.toBe(app.process().pid);
    } finally {
      await app.close();
    }
  });
});
