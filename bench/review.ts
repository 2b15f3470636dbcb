// The Review screen on a run of 10,000 pairs (issue 22): the real renderer (out/renderer, from
// `npm run build`) in Chromium against `isr-studio serve`'s server, on a database written here with
// a round's worth of realistic rows (two responses of 30-120 words per pair, both orders' judgments
// with 8 x 14 x 14 attention maps, 24 real clips). Measured in the page on its own clock: the first
// pair's question on screen after navigation starts, and after each `j` the next pair's position
// drawn (the frame after the change). A reviewer reads a pair before moving on, so `j` is pressed
// every 250 ms. Targets: first pair under 1 s, p95 of `j` under 100 ms.
import { chromium } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromiumPath } from '../e2e/chromium';
import { childProcessEngine } from '../src/main/engine-host/child-process';
import { openStudio } from '../src/main/api/service';
import { startServer } from '../src/main/serve/server';
import { openDatabase } from '../src/main/store/db';

const pairCount = 10_000;
const clips = 24;
const presses = 120;
const loads = 5;
const renderer = fileURLToPath(new URL('../out/renderer', import.meta.url));
const vocabulary = 'the a red blue green square circle triangle moves left right up down then stops near edge of frame two three shapes slowly quickly appears after before'.split(' ');

/** A seeded word salad of `n` words. */
function words(n: number, seed: number): string {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return vocabulary[s % vocabulary.length];
  }).join(' ');
}

/** A studio database holding one run whose round 1 awaits review with `pairCount` pairs. */
function writeDatabase(dir: string): string {
  const file = join(dir, 'studio.db');
  const db = openDatabase(file);
  const clipDir = join(dir, 'clips');
  mkdirSync(clipDir);
  db.transaction(() => {
    db.prepare("INSERT INTO datasets (id, name, source_path, status) VALUES (1, 'bench', ?, 'ready')").run(join(dir, 'bench.jsonl'));
    for (let v = 1; v <= clips; v++) {
      const path = join(clipDir, `clip${v}.mp4`);
      execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `testsrc=size=320x240:rate=10`, '-t', '3', '-vf', `hue=h=${v * 15}`, '-pix_fmt', 'yuv420p', path]);
      db.prepare('INSERT INTO videos (id, path, duration_s, width, height, fps) VALUES (?, ?, 3, 320, 240, 10)').run(v, path);
    }
    const prompts = pairCount / 4;
    const prompt = db.prepare('INSERT INTO prompts (id, dataset_id, video_id, row_id, line, question, answer) VALUES (?, 1, ?, ?, ?, ?, ?)');
    for (let p = 1; p <= prompts; p++) prompt.run(p, 1 + (p % clips), `q${p}`, p, `Question ${p}: ${words(8, p)}?`, words(3, p + 7));
    db.prepare("INSERT INTO models (id, path, family, fingerprint) VALUES (1, '/models/start', 'llava-onevision', 'f')").run();
    db.prepare("INSERT INTO runs (id, mode, dataset_id, start_model_id, rounds_planned, settings, status) VALUES (1, 'isr', 1, 1, 3, ?, 'stopped')")
      .run(JSON.stringify({ frames: 8, tieBand: [0.45, 0.55], review: 'before-training' }));
    db.prepare("INSERT INTO rounds (id, run_id, round, policy_model_id, phase, templates, review) VALUES (1, 1, 1, 1, 'training', '{}', 'awaiting')").run();
    const response = db.prepare('INSERT INTO responses (id, round_id, prompt_id, sample, text, token_count, seed) VALUES (?, 1, ?, ?, ?, ?, 0)');
    const judgment = db.prepare(
      'INSERT INTO judgments (round_id, response_a_id, response_b_id, shown_first, p_first, attention, attention_frames, attention_rows, attention_cols, visual_share) VALUES (1, ?, ?, ?, ?, ?, 8, 14, 14, ?)',
    );
    const pair = db.prepare('INSERT INTO pairs (id, round_id, prompt_id, response_a_id, response_b_id, p_a, judge_choice) VALUES (?, 1, ?, ?, ?, ?, ?)');
    const attention = (seed: number) => Buffer.from(Float32Array.from({ length: 8 * 14 * 14 }, (_, i) => ((Math.imul(seed + i, 2654435761) >>> 0) % 1000) / 1e6).buffer);
    for (let k = 1; k <= pairCount; k++) {
      const promptId = 1 + ((k - 1) % prompts);
      const [a, b] = [2 * k - 1, 2 * k];
      const [lenA, lenB] = [30 + (k % 90), 30 + ((k * 7) % 90)];
      response.run(a, promptId, 2 * Math.floor((k - 1) / prompts), words(lenA, k), Math.round(lenA * 1.3));
      response.run(b, promptId, 2 * Math.floor((k - 1) / prompts) + 1, words(lenB, k + 1), Math.round(lenB * 1.3));
      const aFirst = ((k * 37) % 100) / 100;
      const bFirst = ((k * 53) % 100) / 100;
      judgment.run(a, b, 'a', aFirst, attention(k), 0.3);
      judgment.run(a, b, 'b', 1 - bFirst, attention(k + 1), 0.3);
      const pA = (aFirst + bFirst) / 2;
      pair.run(k, promptId, a, b, pA, pA > 0.55 ? 'a' : pA < 0.45 ? 'b' : 'tie');
    }
  })();
  db.close();
  return file;
}

const percentile = (xs: readonly number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

export async function reviewSection(machine: string): Promise<string> {
  if (!existsSync(join(renderer, 'index.html'))) throw new Error(`the Review benchmark drives the built renderer: run npm run build first (looked in ${renderer})`);
  const dir = mkdtempSync(join(tmpdir(), 'isr-bench-review-'));
  const studio = openStudio({ dbPath: writeDatabase(dir), transport: 'http', engine: childProcessEngine() });
  const server = await startServer({ studio, rendererDir: renderer, port: 0 });
  const browser = await chromium.launch({ executablePath: chromiumPath });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // Timestamps on the page's own clock: when the first question showed, and each `j` to the frame after the pair changed.
    await page.addInitScript(() => {
      const marks = { first: -1, steps: [] as number[], pressed: -1, position: '' };
      (window as unknown as { __review: typeof marks }).__review = marks;
      window.addEventListener('keydown', (e) => {
        if (e.key === 'j') marks.pressed = e.timeStamp;
      }, { capture: true });
      new MutationObserver(() => {
        const question = document.querySelector('[data-testid="pair-question"]');
        if (question?.textContent && marks.first < 0) marks.first = performance.now();
        const position = document.querySelector('[data-testid="pair-position"]')?.textContent ?? '';
        if (position !== marks.position) {
          marks.position = position;
          if (marks.pressed >= 0) {
            const pressed = marks.pressed;
            marks.pressed = -1;
            requestAnimationFrame(() => marks.steps.push(performance.now() - pressed));
          }
        }
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    // The first pair, over several loads of the page (a fresh page each time, the server warm after the first).
    const firsts: number[] = [];
    for (let load = 0; load < loads; load++) {
      await page.goto(load === 0 ? `${server.url}#review` : 'about:blank');
      if (load > 0) await page.goto(`${server.url}#review`);
      await page.getByTestId('pair-question').waitFor();
      await page.getByTestId('pair-position').waitFor();
      firsts.push(await page.evaluate(() => (window as unknown as { __review: { first: number } }).__review.first));
    }
    const position = await page.getByTestId('pair-position').textContent();
    for (let i = 0; i < presses; i++) {
      await page.keyboard.press('j');
      await page.waitForTimeout(250);
    }
    const steps = await page.evaluate(() => (window as unknown as { __review: { steps: number[] } }).__review.steps);
    const last = await page.getByTestId('pair-position').textContent();
    return [
      '## Review: 10,000 pairs in the real renderer (Chromium, `isr-studio serve`)',
      '',
      machine,
      '',
      `Command: \`npm run build && npm run bench -- review\` (bench/review.ts). A database written for the benchmark: one run whose round 1 awaits review with ${pairCount.toLocaleString('en')} pairs ` +
        `(two responses of 30-120 words each, both orders' judgments with 8 x 14 x 14 attention maps, ${clips} real clips); Chromium at 1280x800. ` +
        `"First pair": navigation start to the first pair's question on screen (${position?.trim()} then), over ${loads} loads of the page: median (min–max). "Next pair": each of ${presses} \`j\` presses, 250 ms apart, from the key event to the frame after the pair's position changed (${steps.length} measured; the last read "${last?.trim()}"). ` +
        'Before this redesign (issue 22\'s measurement): first pair 9.6 s (every page of the queue fetched first), `j` p50 444 ms, p95 3.9 s (getPair read the whole round). Targets: first pair under 1 s, `j` p95 under 100 ms.',
      '',
      '| first pair ms | `j` p50 ms | `j` p95 ms | `j` max ms |',
      '|---|---|---|---|',
      `| ${percentile(firsts, 50).toFixed(0)} (${Math.min(...firsts).toFixed(0)}–${Math.max(...firsts).toFixed(0)}) | ${percentile(steps, 50).toFixed(1)} | ${percentile(steps, 95).toFixed(1)} | ${Math.max(...steps).toFixed(1)} |`,
    ].join('\n');
  } finally {
    await browser.close();
    await server.close();
    await studio.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
