// DPO training speed of the `small` fixture's decoder on CPU: seconds per update and training
// tokens/s at a few sequence lengths (prompt + response, chosen and rejected both counted), with
// LoRA r 16 on all seven projections, batch 2 pairs, as `isr-studio train` runs it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineSettingVariables } from '../src/main/engine/engine-settings';
import type { Graph } from '../src/main/engine/graph/ir';
import { Session } from '../src/main/engine/graph/session';
import { readModelConfig } from '../src/main/engine/model/config';
import { writeFixture } from '../src/main/engine/model/fixture';
import { LanguageModel } from '../src/main/engine/model/language-model';
import { openWeights } from '../src/main/engine/model/weights';
import { defaultTrainConfig, type TrainExample } from '../src/main/engine/train/train-config';
import { Trainer } from '../src/main/engine/train/trainer';
import type { StepMetrics } from '../src/main/engine/train/update-loop';
import { demoCorpus } from '../src/main/demo/data/corpus';

const lengths = [64, 128, 256];
/** Updates per length: the first (graph build, session) and the steady ones after it. */
const updates = 8;

/** The sequence length whose update graph's session start is timed through the graph cache. */
const startAt = 128;
const startRepeats = 3;

/**
 * Seconds to create a CPU session of `graph`: with the graph cache off and into an empty cache (a
 * session optimises it and writes the optimised graph, which the session is loaded from) and from
 * the kept entry; in turns.
 */
async function sessionStarts(graph: Graph, cacheDir: string): Promise<string[]> {
  const ways = { off: 'off', 'empty cache': '', 'entry kept': cacheDir } as const;
  const times: Record<string, number[]> = { off: [], 'empty cache': [], 'entry kept': [] };
  const saved = process.env[engineSettingVariables.graphCache];
  try {
    for (let r = 0; r < startRepeats; r++) {
      for (const [way, setting] of Object.entries(ways)) {
        process.env[engineSettingVariables.graphCache] = setting === '' ? mkdtempSync(join(cacheDir, '..', 'empty-')) : setting;
        if (way === 'entry kept' && r === 0) await (await Session.create(graph, { graphName: graph.name })).release();
        const t0 = performance.now();
        const session = await Session.create(graph, { graphName: graph.name });
        times[way].push((performance.now() - t0) / 1000);
        await session.release();
      }
    }
  } finally {
    // Assigning undefined would set the text "undefined".
    if (saved === undefined) Reflect.deleteProperty(process.env, engineSettingVariables.graphCache);
    else process.env[engineSettingVariables.graphCache] = saved;
  }
  return Object.entries(times).map(([way, xs]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `| ${graph.name}, ${graph.nodes.length} nodes | ${way} | ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} (${sorted[0].toFixed(2)}–${sorted[sorted.length - 1].toFixed(2)}) |`;
  });
}

export async function trainSection(machine: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'isr-bench-train-'));
  const rows: string[] = [];
  const starts: string[] = [];
  // The graphs training opens sessions of, the update step's last.
  const opened: Graph[] = [];
  const create = Session.create.bind(Session);
  Session.create = (source, options) => {
    if (typeof source === 'object' && !(source instanceof Uint8Array)) opened.push(source);
    return create(source, options);
  };
  try {
    writeFixture(join(dir, 'model'), { arch: 'llava-onevision', size: 'small', seed: 1, corpus: demoCorpus() });
    const config = readModelConfig(join(dir, 'model'));
    const weights = openWeights(join(dir, 'model'), config);
    const lm = new LanguageModel(config, weights);
    try {
      for (const seq of lengths) {
        // Half prompt, half response; token ids spread over the vocabulary.
        const ids = (n: number, k: number) => Array.from({ length: n }, (_, i) => (i * 7919 + k * 104729) % config.text.vocabSize);
        const examples: TrainExample[] = Array.from({ length: 2 * updates }, (_, k) => ({ prompt: ids(seq / 2, k), chosen: ids(seq / 2, k + 100), rejected: ids(seq / 2, k + 200) }));
        const settings = { ...defaultTrainConfig, epochs: 1, batchSize: 2, warmupRatio: 0 };
        const trainer = Trainer.create({ config, weights, lm }, examples, settings, mkdtempSync(join(dir, 'state-')));
        const reference = await trainer.referenceLogps();
        const steps: { ms: number; m: StepMetrics }[] = [];
        let t0 = performance.now();
        await trainer.train({ reference, saveEvery: 1000, onStep: (m) => {
          const now = performance.now();
          steps.push({ ms: now - t0, m });
          t0 = now;
        } });
        // The first update includes building the graph and its session; the rest are steady state.
        const steady = steps.slice(1).map((s) => s.ms / 1000).sort((a, b) => a - b);
        const median = steady[Math.floor(steady.length / 2)];
        const tokensPerUpdate = 2 * 2 * seq;
        const spread = `${median.toFixed(2)} (${steady[0].toFixed(2)}–${steady[steady.length - 1].toFixed(2)})`;
        console.log(`seq ${seq}: ${spread} s/update, ${(tokensPerUpdate / median).toFixed(0)} tokens/s`);
        rows.push(`| ${seq} | ${tokensPerUpdate} | ${spread} | ${(tokensPerUpdate / median).toFixed(0)} | ${(steps[0].ms / 1000).toFixed(1)} |`);
        if (seq === startAt) starts.push(...await sessionStarts(opened.at(-1)!, join(dir, 'graphs')));
      }
    } finally {
      await lm.release();
      weights.close();
    }
  } finally {
    Session.create = create;
    rmSync(dir, { recursive: true, force: true });
  }
  return `
## Training: DPO updates on the \`small\` fixture (ONNX Runtime CPU)

${machine}
Command: \`npm run bench -- train\` (bench/train.ts). The LLaVA-OneVision \`small\` fixture's Qwen2 decoder (8 layers,
hidden 512), LoRA r 16 / alpha 32 on q, k, v, o, gate, up and down, DPO sigmoid, batch 2 pairs (4 rows), float32, one
graph per update (forward, backward with gradient checkpointing as by default, AdamW). Seconds per update: median (min–max) over the ${updates - 1} updates after the first; the first
(graph build, session creation, first run) is listed apart. Tokens: chosen and rejected rows, prompt included.

| sequence length | tokens / update | s / update | training tokens/s | first update s |
|---|---|---|---|---|
${rows.join('\n')}

Starting a session of the update graph at sequence ${startAt} (\`Session.create\`, ${startRepeats} times each, in turns; median
(min–max) s). A CPU session is always loaded, with optimisation off, from the graph ONNX Runtime optimised (docs/engine.md,
engine settings): with the graph cache off, that graph is written by a session made only to optimise it, into a temporary
file; into an empty cache, the same, the file kept; from the entry kept, only the load.

| graph | graph cache | session start s |
|---|---|---|
${starts.join('\n')}
`;
}
