// What a real-sized checkpoint costs on this machine (issue 21): the stand-ins of published
// checkpoints `isr-studio fixture --like` writes (their configs, processor files, tokenizer and
// half-precision weights, random values), at the default 8 frames of a 640x360 clip. Stages:
// `generate` (load, vision, 32 greedy tokens), one judge verdict (the judge prompt with a
// description and two answers, attention read), one DPO update at batch 1 (its reference pass and
// the update, with gradient checkpointing and, where it fits, without), and one round of
// `isr-studio run` on 8 prompts of 8 clips with the default settings
// (the round's phases timed as it reports them). Each stage runs in a process of its own so its peak
// resident set (VmHWM) is its own; the round's phases are each measured from their start (the peak
// is reset at each phase). The stages repeat, taking turns; the table gives medians and ranges.
// `ISR_BENCH_CHECKPOINTS` picks the presets (comma-separated; default all), `ISR_BENCH_STAGES` the
// stages, `ISR_BENCH_REPEATS` the repeats (default 2; the round runs once).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoCorpus } from '../src/main/demo/data/corpus';
import { checkpointPresetIds, writeCheckpointFixture } from '../src/main/engine/model/fixture';
import { VideoLanguageModel } from '../src/main/engine/model/vlm';
import { judge } from '../src/main/isr/judge';
import { loadTemplates } from '../src/main/isr/templates';
import { trainingExample } from '../src/main/isr/training-example';
import { runTraining } from '../src/main/isr/training-pipeline';
import { VideoFeatures } from '../src/main/isr/video-features';
import { defaultTrainConfig } from '../src/main/engine/train/train-config';
import { answerTurn } from '../src/main/isr/templates';
import { peakMiB, timeRound } from './round-phases';

const stages = ['generate', 'judge', 'dpo', 'dpo-no-checkpointing', 'round'] as const;
// Without gradient checkpointing only where it fits: an update of the 0.5B model at 8 frames would
// hold every layer's activations of 3,400 tokens, more than this machine's memory.
const fitsWithoutCheckpointing = (preset: string) => preset.startsWith('smolvlm');
type Stage = (typeof stages)[number];
const frames = 8;

export interface StageFigures {
  /** Seconds of each part of the stage, in order. */
  parts: Record<string, number>;
  peakMiB: number;
  tokens: number;
  /** The round: each phase's own peak. */
  phasePeaksMiB?: Record<string, number>;
}

const words = (n: number, seed: number) => Array.from({ length: n }, (_, i) => ['red', 'square', 'moves', 'left', 'circle', 'blue', 'then', 'stops', 'near', 'the', 'edge'][(i * 7 + seed) % 11]).join(' ');

async function timedPart<T>(parts: Record<string, number>, name: string, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await work();
  parts[name] = (performance.now() - t0) / 1000;
  return out;
}

/** One round of `isr-studio run` (mode isr, default settings) on the imported dataset in `data`,
 *  each phase's seconds and peak from the progress it reports. */
async function runRoundStage(model: string, data: string, cache: string): Promise<StageFigures> {
  const phases = Object.entries(await timeRound(data, model, cache)).map(([key, f]) => [key.replace(/^round \d+: /, ''), f] as const);
  return {
    parts: Object.fromEntries(phases.map(([phase, f]) => [phase, f.seconds])),
    peakMiB: Math.max(...phases.map(([, f]) => f.peakMiB)),
    tokens: 0,
    phasePeaksMiB: Object.fromEntries(phases.map(([phase, f]) => [phase, f.peakMiB])),
  };
}

/** One stage, in this (child) process. */
async function runStage(stage: Stage, model: string, clip: string, cache: string): Promise<StageFigures> {
  if (stage === 'round') return runRoundStage(model, clip, cache);
  const parts: Record<string, number> = {};
  const ffmpeg = 'ffmpeg';
  const vlm = await timedPart(parts, 'load', () => VideoLanguageModel.load(model));
  const videos = new VideoFeatures(vlm, ffmpeg, cache);
  const templates = loadTemplates();
  // As the CLI and rounds do: the video's features first, then the tower released.
  await timedPart(parts, 'vision', () => videos.prepare([clip], frames));
  const features = await videos.of(clip, frames);
  const shown = await videos.shown(clip, frames);
  let tokens = 0;
  if (stage === 'generate') {
    const prompt = vlm.prompt(answerTurn(templates, 'What happens in the video?'), shown);
    tokens = prompt.inputIds.length;
    await timedPart(parts, 'prefill + 32 tokens', () => vlm.generate([{ prompt, features }], { maxNewTokens: 32, stopTokenIds: [] }));
  } else if (stage === 'judge') {
    const input = { question: 'What happens in the video?', first: words(40, 1), second: words(40, 2), context: words(120, 3), features, video: shown };
    await timedPart(parts, 'verdict', () => judge(vlm, templates, input));
  } else {
    const gradientCheckpointing = stage === 'dpo';
    const example = await trainingExample(vlm, { messages: answerTurn(templates, 'What happens in the video?'), chosen: words(60, 4), rejected: words(60, 5), video: clip }, { features: videos, frames, tower: false });
    tokens = example.prompt.length * 2 + example.chosen.length + example.rejected!.length;
    const stateDir = mkdtempSync(join(tmpdir(), 'isr-bench-dpo-'));
    const t0 = performance.now();
    let referenceDone = 0;
    await runTraining({
      model: vlm, from: model, examples: [example], settings: { ...defaultTrainConfig, epochs: 1, batchSize: 1, warmupRatio: 0, gradientCheckpointing }, stateDir,
      onReference: (done, total) => {
        if (done === total) referenceDone = performance.now();
      },
    });
    parts['reference pass'] = (referenceDone - t0) / 1000;
    parts.update = (performance.now() - referenceDone) / 1000;
    rmSync(stateDir, { recursive: true, force: true });
  }
  await vlm.release();
  return { parts, peakMiB: peakMiB(), tokens };
}

const here = fileURLToPath(import.meta.url);

export function childStage(stage: Stage, model: string, clip: string, cache: string): StageFigures {
  const out = spawnSync(process.execPath, ['--import', 'tsx', here, 'child', stage, model, clip, cache], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '131072' } });
  const line = out.stdout.trim().split('\n').pop() ?? '';
  if (out.status !== 0 || !line.startsWith('{')) throw new Error(`bench stage ${stage} failed (${out.status ?? out.signal}): ${out.stderr.slice(-2000)}`);
  return JSON.parse(line) as StageFigures;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const spread = (xs: readonly number[], digits: number) => (xs.length < 2 ? median(xs).toFixed(digits) : `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`);

function folderBytes(dir: string, match: RegExp): number {
  return readdirSync(dir).filter((f) => match.test(f)).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

// The round's data: 8 clips of ffmpeg's test sources (640x360, 6 s) and a question on each.
const roundSources = ['testsrc', 'testsrc2', 'smptebars', 'rgbtestsrc', 'yuvtestsrc', 'mandelbrot', 'life', 'cellauto'];
const roundQuestions = ['What happens in the video?', 'Which colours appear?', 'What moves, and which way?', 'How many shapes are there?'];

export function writeRoundData(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const rows = roundSources.map((source, i) => {
    const video = `clip${i}.mp4`;
    execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `${source}=size=640x360:rate=30`, '-t', '6', '-pix_fmt', 'yuv420p', join(dir, video)]);
    return JSON.stringify({ id: `q${i}`, video, question: roundQuestions[i % roundQuestions.length] });
  });
  const file = join(dir, 'round.jsonl');
  writeFileSync(file, `${rows.join('\n')}\n`);
  return file;
}

/** A folder holding a studio database with the round's dataset imported (by the CLI, as a user would). */
export function importedRound(dataset: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  execFileSync(process.execPath, [fileURLToPath(new URL('../bin/isr-studio.mjs', import.meta.url)), 'import', '--db', join(dir, 'studio.db'), '--data', dataset], { stdio: 'ignore' });
  return dir;
}

export async function checkpointSection(machine: string): Promise<string> {
  const chosen = (process.env.ISR_BENCH_CHECKPOINTS?.split(',') ?? [...checkpointPresetIds]).filter(Boolean);
  const repeats = Number(process.env.ISR_BENCH_REPEATS ?? 2);
  const run = stages.filter((s) => process.env.ISR_BENCH_STAGES?.split(',').includes(s) ?? true);
  const root = mkdtempSync(join(tmpdir(), 'isr-bench-checkpoint-'));
  const clip = join(root, 'clip.mp4');
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=30', '-t', '6', '-pix_fmt', 'yuv420p', clip]);
  const dataset = run.includes('round') ? writeRoundData(join(root, 'round-data')) : '';
  const rows: string[] = [];
  try {
    for (const preset of chosen) {
      const model = join(root, preset);
      const t0 = performance.now();
      const { dtype } = writeCheckpointFixture(model, { like: preset, seed: 1, corpus: demoCorpus() });
      const writeS = (performance.now() - t0) / 1000;
      const onDisk = folderBytes(model, /\.safetensors$/);
      const stagesHere = run.filter((s) => s !== 'dpo-no-checkpointing' || fitsWithoutCheckpointing(preset));
      const figures = new Map<Stage, StageFigures[]>(stagesHere.map((s) => [s, []]));
      for (let r = 0; r < repeats; r++) {
        for (const stage of stagesHere) {
          if (stage === 'round' && r > 0) continue;
          const cache = join(root, `cache-${preset}-${stage}-${r}`);
          mkdirSync(cache, { recursive: true });
          const input = stage === 'round' ? importedRound(dataset, join(root, `round-${preset}`)) : clip;
          const figure = childStage(stage, model, input, cache);
          process.stderr.write(`${preset} ${stage}: ${JSON.stringify(figure)}\n`);
          figures.get(stage)!.push(figure);
        }
      }
      const gib = (mib: number) => mib / 1024;
      const xDisk = (peakGiB: number) => `${(peakGiB / gib(onDisk / 1024 ** 2)).toFixed(2)}x`;
      for (const stage of stagesHere) {
        const runs = figures.get(stage)!;
        if (stage === 'round') {
          const [round] = runs;
          for (const [phase, seconds] of Object.entries(round.parts)) {
            const peak = gib(round.phasePeaksMiB![phase]);
            rows.push(`| ${preset} | round: ${phase} | – | ${seconds.toFixed(0)} s | ${peak.toFixed(2)} GiB | ${xDisk(peak)} |`);
          }
          const total = Object.values(round.parts).reduce((a, b) => a + b, 0);
          rows.push(`| ${preset} | round: all phases | – | ${(total / 60).toFixed(1)} min | ${gib(round.peakMiB).toFixed(2)} GiB | ${xDisk(gib(round.peakMiB))} |`);
          continue;
        }
        const parts = Object.keys(runs[0].parts).map((p) => `${p} ${spread(runs.map((f) => f.parts[p]), 1)} s`).join('; ');
        const peak = runs.map((f) => gib(f.peakMiB));
        rows.push(`| ${preset} | ${stage} | ${runs[0].tokens || '–'} | ${parts} | ${spread(peak, 2)} GiB | ${xDisk(median(peak))} |`);
      }
      rows.push(`| ${preset} | (writing the stand-in) | – | ${writeS.toFixed(0)} s for ${(onDisk / 1024 ** 3).toFixed(2)} GiB of ${dtype} weights | – | – |`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return [
    '## Real-sized checkpoints: generate, a judge verdict, a DPO update and a round, at 8 frames (ONNX Runtime CPU)',
    '',
    machine,
    '',
    `Command: \`npm run bench -- checkpoint\` (presets: ${chosen.join(', ')}; ${repeats} runs of each stage but the round, in turns, each in a fresh process; median (min–max)). ` +
      'The models are the stand-ins `isr-studio fixture --like` writes: the published config, processor and tokenizer files and the weights in their published dtype and layout, with random values. ' +
      'The clip is 6 s of ffmpeg\'s 640x360 test pattern; 8 frames are decoded at that size and resized as the checkpoint\'s processor does. ' +
      'The round is one round of `isr-studio run` (mode isr, default settings: 2 samples of up to 48 tokens, 96-token contexts, 3 epochs at batch 2) on 8 clips of ffmpeg\'s test sources, one question each, imported with `isr-studio import`; each phase as the round reports it, its peak measured from its own start. ' +
      'DPO updates run with gradient checkpointing (the default); "dpo-no-checkpointing" keeps every layer\'s activations instead, measured only on the SmolVLM stand-ins. ' +
      '"Tokens" is the prompt (generate), or both rows of the pair (DPO). The peak is the stage process\'s VmHWM, and "x disk" is that peak over the checkpoint\'s bytes on disk.',
    '',
    '| Checkpoint | Stage | Tokens | Seconds | Peak RSS | x disk |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

if (process.argv[2] === 'child') {
  const [, , , stage, model, clip, cache] = process.argv;
  process.stdout.write(`${JSON.stringify(await runStage(stage as Stage, model, clip, cache))}\n`);
}
