// One whole round on the `small` fixture, phase by phase (issue 24): the demo data of 60 clips
// (182 training prompts on 50 clips, 36 held-out questions on 10), imported with `isr-studio import`,
// one round of mode isr at the default settings with the held-out set (so round 0's evaluation runs
// too), in a process of its own with the engine's glibc setting. Each phase: its seconds, its items
// (prompts, videos, pairs, updates, questions) and the seconds of each after the first, and its peak.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { timeRound, type PhaseFigures } from './round-phases';
import { median } from './stats';

const here = fileURLToPath(import.meta.url);
const cli = (...args: string[]) => execFileSync(process.execPath, [fileURLToPath(new URL('../bin/isr-studio.mjs', import.meta.url)), ...args], { stdio: 'ignore' });

const items = (xs: readonly number[]) => (xs.length === 0 ? '–' : `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`);

export async function roundSection(machine: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'isr-bench-round-'));
  try {
    cli('demo-data', '--out', join(dir, 'data'), '--videos', '60');
    cli('fixture', '--arch', 'llava-onevision', '--size', 'small', '--out', join(dir, 'model'));
    for (const set of ['train', 'test']) cli('import', '--db', join(dir, 'studio.db'), '--data', join(dir, 'data', `${set}.jsonl`));
    mkdirSync(join(dir, 'cache'));
    const out = spawnSync(process.execPath, ['--import', 'tsx', here, 'child', dir, join(dir, 'model'), join(dir, 'cache')], {
      encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' },
    });
    const line = out.stdout.trim().split('\n').pop() ?? '';
    if (out.status !== 0 || !line.startsWith('{')) throw new Error(`bench round failed (${out.status ?? out.signal}): ${out.stderr.slice(-2000)}`);
    const phases = JSON.parse(line) as Record<string, PhaseFigures>;
    const total = Object.values(phases).reduce((sum, f) => sum + f.seconds, 0);
    return [
      '## A whole round on the `small` fixture, phase by phase (ONNX Runtime CPU)',
      '',
      machine,
      'Command: `npm run bench -- round` (bench/round.ts). The LLaVA-OneVision `small` fixture (random weights); the demo data ' +
        '(`isr-studio demo-data --videos 60`: 182 training prompts on 50 clips, 36 held-out questions on 10) imported with `isr-studio import`; one ' +
        'round of mode isr at the default settings (8 frames, 2 samples of up to 48 tokens, 96-token contexts, 3 epochs at batch 2), ' +
        'with the held-out set, so round 0 is evaluated first. One run in a process of its own; "per item" is the median (min–max) ' +
        'of the phase\'s items after its first (a prompt, a video, a pair, an update, a question); the peak is measured from the phase\'s start.',
      '',
      '| Phase | Items | Seconds | Per item, s | Peak RSS, MiB |',
      '|---|---|---|---|---|',
      ...Object.entries(phases).map(([phase, f]) => `| ${phase} | ${f.itemSeconds.length + 1} | ${f.seconds.toFixed(1)} | ${items(f.itemSeconds)} | ${f.peakMiB.toFixed(0)} |`),
      `| all phases | – | ${total.toFixed(0)} | – | ${Math.max(...Object.values(phases).map((f) => f.peakMiB)).toFixed(0)} |`,
    ].join('\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'child') {
  const [, , , dir, model, cache] = process.argv;
  process.stdout.write(`${JSON.stringify(await timeRound(dir, model, cache))}\n`);
}
