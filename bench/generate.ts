// Inference speed of the `small` fixture on CPU: vision frames/s, prefill and decode tokens/s, and
// how decode compares with the memory-bandwidth bound (every decoded token reads every decoder
// weight once, so bytes of weights / bandwidth is the fastest a step can be).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ModelConfig } from '../src/main/engine/model/config';
import { writeCheckpointFixture, writeFixture } from '../src/main/engine/model/fixture';
import { textWeightNames } from '../src/main/engine/model/decoder';
import { releaseDeviceCache, stackCachesLeftPadded } from '../src/main/engine/model/language-model';
import { VideoLanguageModel } from '../src/main/engine/model/vlm';
import { expectedWeights } from '../src/main/engine/model/weights';
import { demoCorpus } from '../src/main/demo/data/corpus';
import { median } from './stats';


async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await f();
  return { ms: performance.now() - t0, value };
}

/** Copy bandwidth in GB/s (bytes read + written per second) of Buffer.copy over 1 GiB, best of 5. */
function copyBandwidth(): number {
  const size = 2 ** 30;
  const [src, dst] = [Buffer.alloc(size, 1), Buffer.alloc(size)];
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    src.copy(dst);
    best = Math.min(best, performance.now() - t0);
  }
  return (2 * size) / (best / 1000) / 1e9;
}

interface Figures {
  arch: string;
  frames: number;
  visionFps: number;
  promptTokens: number;
  prefillTps: number;
  decodeMs: number;
  decodeTps: number;
  weightBytes: number;
}

const frames = 8;

/** `frames` synthetic frames at the model's size. */
export function benchFrames(model: VideoLanguageModel): Uint8Array[] {
  const { width, height } = model.frameSize;
  return Array.from({ length: frames }, (_, f) => Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 31 + f * 17) % 256));
}

/** The vision tower on `rgb`: median milliseconds of `runs` runs after one untimed. */
export async function visionMs(model: VideoLanguageModel, rgb: Uint8Array[], runs = 3): Promise<number> {
  await model.visualFeatures(rgb);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await timed(() => model.visualFeatures(rgb))).ms);
  return median(times);
}

/** Prefill (median of 3 after one) and decode (median of 40 steps after 8) of the bench prompt with
 *  the video's `features`, on the engine's device and precision; with `keepCacheOnDevice`, decode
 *  steps leave the cache where the provider can keep it. */
export async function textFigures(model: VideoLanguageModel, features: Float32Array, keepCacheOnDevice = false): Promise<{ promptTokens: number; prefillTps: number; decodeMs: number }> {
  const prompt = model.prompt([{ role: 'user', content: [{ type: 'video' }, { type: 'text', text: 'Describe the video in detail: which shapes appear and how they move.' }] }], frames);
  const seq = prompt.inputIds.length;
  const embeds = model.lm.embed(prompt.inputIds, { tokenId: prompt.visualTokenId!, features });
  const ones = (n: number) => new BigInt64Array(n).fill(1n);
  const positions = (from: number, n: number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i));
  const prefill = () => model.lm.forward({ inputsEmbeds: embeds, batch: 1, seq, attentionMask: ones(seq), positionIds: positions(0, seq), past: null, lastLogitsOnly: true });
  await prefill();
  const prefillRuns: number[] = [];
  for (let i = 0; i < 3; i++) prefillRuns.push((await timed(prefill)).ms);

  // Decode: one token at a time on the cache, the step generation repeats (with room for the steps, as generate makes).
  let present = stackCachesLeftPadded([(await prefill()).present], seq, seq + 48);
  const token = model.lm.embed([prompt.inputIds[seq - 1]]);
  const steps: number[] = [];
  for (let t = 0; t < 48; t++) {
    const total = seq + t + 1;
    const step = await timed(() => model.lm.forward({ inputsEmbeds: token, batch: 1, seq: 1, attentionMask: ones(total), positionIds: positions(seq + t, 1), past: present, lastLogitsOnly: true, keepCacheOnDevice }));
    present = step.value.present;
    if (t >= 8) steps.push(step.ms);
  }
  releaseDeviceCache(present);
  return { promptTokens: seq, prefillTps: seq / (median(prefillRuns) / 1000), decodeMs: median(steps) };
}

async function measure(arch: string, dir: string, write: (dir: string) => ModelConfig): Promise<Figures> {
  const config = write(dir);
  const model = await VideoLanguageModel.load(dir);
  try {
    const rgb = benchFrames(model);
    const vision = await visionMs(model, rgb);
    const text = await textFigures(model, await model.visualFeatures(rgb));
    // Bytes a decode step must read: every decoder matrix and norm, and the head (not the embedding table, of which it reads one row).
    const { prefix: textPrefix, lmHead } = textWeightNames(config);
    let weightBytes = 0;
    for (const [name, shape] of expectedWeights(config)) {
      const isText = name.startsWith(textPrefix) || name === lmHead;
      if (isText && !name.includes('embed_tokens')) weightBytes += 4 * shape.reduce((a, b) => a * b, 1);
    }
    if (config.text.tieWordEmbeddings) weightBytes += 4 * config.text.vocabSize * config.text.hiddenSize;
    return { arch, frames, visionFps: frames / (vision / 1000), ...text, decodeTps: 1000 / text.decodeMs, weightBytes };
  } finally {
    await model.release();
  }
}

export async function generateSection(machine: string): Promise<string> {
  const bandwidth = copyBandwidth();
  const rows: Figures[] = [];
  const models: [string, (dir: string) => ModelConfig][] = [
    ...(['llava-onevision', 'idefics3'] as const).map((arch): [string, (dir: string) => ModelConfig] => [arch, (dir) => writeFixture(dir, { arch, size: 'small', seed: 1, corpus: demoCorpus() }).config]),
    // Real-sized: its float32 decoder (533 MB) is larger than this machine's last-level cache, which the small fixtures' fit in.
    ['smolvlm-256m stand-in', (dir) => writeCheckpointFixture(dir, { like: 'smolvlm-256m', seed: 1, corpus: demoCorpus() }).config],
  ];
  for (const [arch, write] of models) {
    const dir = mkdtempSync(join(tmpdir(), 'isr-bench-generate-'));
    try {
      const f = await measure(arch, dir, write);
      console.log(`${arch}: vision ${f.visionFps.toFixed(1)} frames/s, prefill ${f.prefillTps.toFixed(0)} tok/s, decode ${f.decodeTps.toFixed(1)} tok/s`);
      rows.push(f);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const table = rows.map((f) => {
    const boundMs = (f.weightBytes / 1e9 / bandwidth) * 1000;
    return `| ${f.arch} | ${f.frames} | ${f.visionFps.toFixed(1)} | ${f.promptTokens} | ${f.prefillTps.toFixed(0)} | ${f.decodeMs.toFixed(2)} | ${f.decodeTps.toFixed(1)} | ${(f.weightBytes / 1e6).toFixed(1)} | ${boundMs.toFixed(2)} | ${((boundMs / f.decodeMs) * 100).toFixed(0)}% |`;
  });
  return `
## Inference: vision tower, prefill and decode (\`small\` fixtures and the SmolVLM-256M stand-in, ONNX Runtime CPU)

${machine}
Command: \`npm run bench -- generate\` (bench/generate.ts). Float32, batch 1, graphOptimizationLevel 'all', ORT's default
threads. Vision: 8 frames through the tower and projector (and, for LLaVA-OneVision, the 2x2 pooling), median of 3.
Prefill: the chat prompt with the video's visual tokens, one forward with an empty cache, median of 3. Decode: one
token per step on the KV cache, median of 40 steps after 8 warm-up steps. Bound: decoder weight bytes read per
token / measured copy bandwidth (${bandwidth.toFixed(1)} GB/s, Buffer.copy of 1 GiB, read + write counted).

| model | frames | vision frames/s | prompt tokens | prefill tok/s | decode ms/token | decode tok/s | decoder weights MB | bandwidth bound ms | of bound |
|---|---|---|---|---|---|---|---|---|---|
${table.join('\n')}

Reading: "of bound" is how close decode comes to the fastest the memory system allows (100% would mean a step
does nothing but stream the decoder's weights once). The small fixtures' float32 decoders (95 MB) fit in the
last-level cache of machines like this one, so their steps can come out at or above the bound measured over 1 GiB;
the SmolVLM-256M stand-in's (538 MB, its vision stage timed at the real 512x512 frames) is the figure to hold
against a target. A decode step feeds the KV cache where it lies and gets back only its own keys and values
(docs/engine.md, memory), and runs its layers on rows with the query heads grouped by KV head (docs/engine.md, opset
and naming): 49 nodes a layer. What remains of the gap is mostly attention's products over the cache, which a step
reads whole, and the dispatch of its small nodes.
`;
}
