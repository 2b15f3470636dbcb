// `npm run bench -- gpu`: the engine on an accelerator (issue 24), ONNX Runtime's CUDA provider
// (after `npm run setup:cuda`) or else its bundled WebGPU provider, whichever opens first. On the
// SmolVLM-256M stand-in (real size): vision, prefill and decode in float32 and float16, decode with
// the KV cache sent to the device each step and kept there, and CPU in the same run; then one round
// of `isr-studio run` (8 prompts, default settings) on the accelerator, each phase as it reports.
// Skipped, its figures kept, where neither provider opens. `ISR_BENCH_GPU_ROUND=0` leaves the round out.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoCorpus } from '../src/main/demo/data/corpus';
import { writeCheckpointFixture } from '../src/main/engine/model/fixture';
import { VideoLanguageModel } from '../src/main/engine/model/vlm';
import { whyNotOn, withEnv } from '../src/main/engine/testing/accelerators';
import { childStage, importedRound, writeRoundData } from './checkpoint';
import { benchFrames, textFigures, visionMs } from './generate';
import { BenchSkipped } from './skip';

/** The first accelerator a session opens on, or undefined, with why each before it did not. */
async function accelerator(): Promise<{ name?: string; tried: string[] }> {
  const tried: string[] = [];
  for (const name of ['cuda', 'webgpu']) {
    const reason = await whyNotOn(name);
    if (reason === null) return { name, tried };
    tried.push(reason);
  }
  return { tried };
}

/** What the accelerator is, as far as this machine says (nvidia-smi, or Vulkan's device name). */
function deviceName(provider: string): string {
  const ask = (cmd: string, args: string[], pick: (out: string) => string | undefined) => {
    try {
      return pick(execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
    } catch {
      return undefined;
    }
  };
  const gpu = ask('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader'], (out) => out.trim().split('\n')[0])
    ?? ask('vulkaninfo', ['--summary'], (out) => /deviceName\s*=\s*(.+)/.exec(out)?.[1].trim());
  return `${provider}${gpu === undefined ? '' : ` on ${gpu}`}`;
}

export async function gpuSection(machine: string): Promise<string> {
  const { name: provider, tried } = await accelerator();
  if (provider === undefined) throw new BenchSkipped(`no accelerator opened: ${tried.join('; ')}`);
  const device = deviceName(provider);
  const root = mkdtempSync(join(tmpdir(), 'isr-bench-gpu-'));
  const rows: string[] = [];
  try {
    const model = join(root, 'smolvlm-256m');
    writeCheckpointFixture(model, { like: 'smolvlm-256m', seed: 1, corpus: demoCorpus() });
    /** A fresh load of the stand-in under `env` (sessions follow the settings when they open), released after `f`. */
    const loaded = <T>(env: Record<string, string>, f: (vlm: VideoLanguageModel) => Promise<T>) => withEnv(env, async () => {
      const vlm = await VideoLanguageModel.load(model);
      try {
        return await f(vlm);
      } finally {
        await vlm.release();
      }
    });
    // The video's features once, on CPU: every run below prefills and decodes the same prompt.
    const cpu = { ISR_DEVICE: 'cpu', ISR_PRECISION: 'float32' };
    const { features, cpuVision } = await loaded(cpu, async (vlm) => {
      const rgb = benchFrames(vlm);
      return { cpuVision: await visionMs(vlm, rgb, 1), features: await vlm.visualFeatures(rgb) };
    });
    const deviceVision = await loaded({ ISR_DEVICE: provider, ISR_PRECISION: 'float32' }, (vlm) => visionMs(vlm, benchFrames(vlm), 1));
    // Only WebGPU can keep the cache on the device (onnxruntime-node binds device outputs for it alone).
    const keeps = provider === 'webgpu' ? [false, true] : [false];
    const runs: [string, Record<string, string>, boolean, number][] = [
      ['cpu, float32', cpu, false, cpuVision],
      ...(['float32', 'float16'] as const).flatMap((precision) => keeps.map((keep): [string, Record<string, string>, boolean, number] => [
        `${provider}, ${precision}, cache ${keep ? 'kept on the device' : 'sent each step'}`, { ISR_DEVICE: provider, ISR_PRECISION: precision }, keep, deviceVision,
      ])),
    ];
    for (const [label, env, keep, vision] of runs) {
      const f = await loaded(env, (vlm) => textFigures(vlm, features, keep));
      console.log(`${label}: prefill ${f.prefillTps.toFixed(0)} tok/s, decode ${f.decodeMs.toFixed(1)} ms`);
      rows.push(`| ${label} | ${(8 / (vision / 1000)).toFixed(2)} | ${f.promptTokens} | ${f.prefillTps.toFixed(0)} | ${f.decodeMs.toFixed(1)} |`);
    }
    const round: string[] = [];
    if (process.env.ISR_BENCH_GPU_ROUND !== '0') {
      const data = importedRound(writeRoundData(join(root, 'round-data')), join(root, 'round'));
      const cache = join(root, 'cache');
      mkdirSync(cache, { recursive: true });
      const figures = await withEnv({ ISR_DEVICE: provider, ISR_PRECISION: 'auto' }, () => Promise.resolve(childStage('round', model, data, cache)));
      for (const [phase, seconds] of Object.entries(figures.parts)) round.push(`| ${phase} | ${seconds.toFixed(0)} s |`);
      round.push(`| all phases | ${(Object.values(figures.parts).reduce((a, b) => a + b, 0) / 60).toFixed(1)} min |`);
    }
    return [
      `## An accelerator: ${device} (SmolVLM-256M stand-in)`,
      '',
      machine,
      '',
      'Command: `npm run bench -- gpu` (bench/gpu.ts): the first of CUDA (after `npm run setup:cuda`) and WebGPU that opens. ' +
        'Vision: 8 frames at 512x512 through the tower (float32), one run after one untimed. Prefill: the chat prompt with the video, median of 3. Decode: one token a step on the KV cache, median of 40 steps after 8. ' +
        '"Cache sent each step": the cache goes from host memory to the decoder every step, as on CPU; "kept on the device": decode steps feed the device copy the previous step left (WebGPU only: onnxruntime-node binds device outputs for it alone). ' +
        'float16: the decoder\'s products, MLP and head in half precision, norms, rotary angles and attention in float32 (`--precision`; the vision tower stays float32).',
      '',
      '| run | vision frames/s | prompt tokens | prefill tok/s | decode ms/token |',
      '|---|---|---|---|---|',
      ...rows,
      ...(round.length > 0 ? ['', `One round of \`isr-studio run\` on ${device} (8 prompts of 8 clips, default settings, \`--precision auto\`), each phase as the round reports it:`, '', '| phase | time |', '|---|---|', ...round] : []),
    ].join('\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
