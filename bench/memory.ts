// Resident memory of a loaded decoder with the sessions a round creates (token embeddings,
// generation, full logits, the judge's attention) and what it costs in prefill and decode speed:
// the sessions as they were (each with its own copy of the weights), as LanguageModel makes them now,
// and the alternative of feeding every session the shared copy. Two models: the `small` fixture and a
// stand-in with Qwen2-0.5B's dimensions and random weights. Each measurement runs in a process of its
// own, so no figure carries another's heap; the ways take turns, repeated.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { Graph } from '../src/main/engine/graph/ir';
import { serialize } from '../src/main/engine/graph/onnx';
import { Session } from '../src/main/engine/graph/session';
import { readModelConfig, type ModelConfig } from '../src/main/engine/model/config';
import { writeFixture } from '../src/main/engine/model/fixture';
import { LanguageModel, type ForwardStep, type KvCache } from '../src/main/engine/model/language-model';
import { expectedWeights, modelWeights, openWeights, type ModelWeights } from '../src/main/engine/model/weights';
import { ATTENTION_QUERIES, buildDecoderGraph, buildEmbeddingGraph, LOGITS_POSITIONS, pastName, presentName, textWeightNames } from '../src/main/engine/model/decoder';
import { demoCorpus } from '../src/main/demo/data/corpus';

type Way = 'before' | 'after' | 'shared';
type ModelName = 'small' | 'qwen2-0.5b';
const ways: readonly Way[] = ['before', 'after', 'shared'];
const wayLabel: Record<Way, string> = {
  before: 'before: 4 sessions, each its own copy',
  after: 'after: decoder owns (prepacked), others share',
  shared: 'alternative: decoder shares too',
};

interface ChildArgs { way: Way; model: ModelName; dir: string; prompt: number; decodeSteps: number }

interface Figures {
  /** MiB: before any session, then after each session is created and has run once. */
  base: number;
  embed: number;
  generation: number;
  fullLogits: number;
  attention: number;
  /** MiB: the process's peak resident set (VmHWM). */
  peak: number;
  weightBytes: number;
  prefillTps: number;
  decodeMs: number;
  fullLogitsMs: number;
  attentionMs: number;
}

const mib = (kb: number) => kb / 1024;
/** VmRSS and VmHWM in MiB, after a full collection (the child runs with --expose-gc) and a second
 *  for V8 to hand freed array buffers back. */
async function resident(): Promise<{ rss: number; peak: number }> {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 1000));
  (globalThis as { gc?: () => void }).gc?.();
  const status = readFileSync('/proc/self/status', 'utf8');
  const field = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)![1]);
  return { rss: mib(field('VmRSS')), peak: mib(field('VmHWM')) };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Qwen2-0.5B's text config (hidden 896, 24 layers, 14 heads / 2 KV heads, MLP 4864, vocab 151936, tied head) on the tiny fixture's other sections. */
function standInConfig(dir: string): ModelConfig {
  const base = readModelConfig(dir);
  return {
    ...base,
    text: {
      ...base.text, modelType: 'qwen2', hiddenSize: 896, numLayers: 24, numHeads: 14, numKvHeads: 2, headDim: 64,
      intermediateSize: 4864, vocabSize: 151936, tieWordEmbeddings: true, qkvBias: true, outputBias: false, rope: { theta: 1e6, dim: 64, scaling: { type: 'default' } }, rmsNormEps: 1e-6,
    },
  };
}

/** Random weights made on each read (as a checkpoint read gives a fresh array): norms 1, matrices uniform with std about 1/sqrt(fan-in). */
function standInWeights(config: ModelConfig): ModelWeights {
  const shapes = expectedWeights(config);
  return modelWeights(shapes, (name) => {
    const shape = shapes.get(name)!;
    const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (/norm[^.]*\.weight$/.test(name)) return out.fill(1);
    const scale = Math.sqrt(3 / shape[shape.length - 1]) * 2;
    let s = [...name].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261);
    for (let i = 0; i < out.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      out[i] = (s / 4294967296 - 0.5) * scale;
    }
    return out;
  }, () => {});
}

/** What a measurement drives: token embeddings, a decoder step, an attention pass (LanguageModel's API). */
interface Driver {
  embed(ids: number[]): Promise<Float32Array>;
  forward(step: ForwardStep): Promise<{ logits: Float32Array; present: KvCache }>;
  attention(embeds: Float32Array, seq: number, layers: readonly number[], queries: readonly number[]): Promise<unknown>;
  release(): Promise<void>;
}

/** Standard decoder feeds (decoder.ts names), an empty cache when `past` is null. */
function decoderFeeds(config: ModelConfig, step: Omit<ForwardStep, 'lastLogitsOnly'>, rows?: { logits: number[]; queries: number[] }): Record<string, ort.Tensor> {
  const t = config.text;
  const total = (step.past?.length ?? 0) + step.seq;
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: new ort.Tensor('float32', step.inputsEmbeds, [step.batch, step.seq, t.hiddenSize]),
    attention_mask: new ort.Tensor('int64', step.attentionMask, [step.batch, total]),
    position_ids: new ort.Tensor('int64', step.positionIds, [step.batch, step.seq]),
  };
  const empty = new ort.Tensor('float32', new Float32Array(0), [step.batch, t.numKvHeads, 0, t.headDim]);
  for (let l = 0; l < t.numLayers; l++) {
    feeds[pastName(l, 'key')] = step.past?.layers[l].key ?? empty;
    feeds[pastName(l, 'value')] = step.past?.layers[l].value ?? empty;
  }
  if (rows !== undefined) {
    feeds[LOGITS_POSITIONS] = new ort.Tensor('int64', BigInt64Array.from(rows.logits, BigInt), [rows.logits.length]);
    feeds[ATTENTION_QUERIES] = new ort.Tensor('int64', BigInt64Array.from(rows.queries, BigInt), [rows.queries.length]);
  }
  return feeds;
}

const present = (config: ModelConfig, out: Record<string, ort.Tensor>, step: { batch: number; seq: number; past: KvCache | null }): KvCache => ({
  layers: Array.from({ length: config.text.numLayers }, (_, l) => ({ key: out[presentName(l, 'key')], value: out[presentName(l, 'value')] })),
  batch: step.batch, length: (step.past?.length ?? 0) + step.seq,
});

/**
 * 'before': the sessions as they were, each from its graph's bytes with the weights inline (embeddings,
 * last-logits decoder, full-logits decoder, attention decoder). 'shared': one decoder for all three (as
 * now) but fed the shared copy like the other sessions, to show what prepacking is worth.
 */
async function manualDriver(way: 'before' | 'shared', config: ModelConfig, weights: ModelWeights): Promise<Driver> {
  const open = (graph: Graph, name: string) => (way === 'before' ? Session.create(serialize(graph), { graphName: name }) : Session.create(graph, { graphName: name, weights: 'shared' }));
  const embedding = await open(buildEmbeddingGraph(config, weights), 'embed_tokens');
  const sessions = new Map<string, Session>();
  const lazily = async (name: string, graph: () => Graph) => {
    if (!sessions.has(name)) sessions.set(name, await open(graph(), name));
    return sessions.get(name)!;
  };
  const h = config.text.hiddenSize;
  return {
    embed: async (ids) => (await embedding.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]) })).inputs_embeds.data as Float32Array,
    async forward(step) {
      const rows = step.lastLogitsOnly ? [step.seq - 1] : Array.from({ length: step.seq }, (_, i) => i);
      const out = way === 'before'
        ? await (await lazily(step.lastLogitsOnly ? 'decoder_last' : 'decoder', () => buildDecoderGraph(config, weights, { kvCache: true, lastLogitsOnly: step.lastLogitsOnly }))).run(decoderFeeds(config, step))
        : await (await lazily('decoder', () => buildDecoderGraph(config, weights, { kvCache: true, rowsAtRunTime: true }))).run(decoderFeeds(config, step, { logits: rows, queries: [] }));
      return { logits: out.logits.data as Float32Array, present: present(config, out, step) };
    },
    async attention(embeds, seq, layers, queries) {
      const step = { inputsEmbeds: embeds, batch: 1, seq, attentionMask: new BigInt64Array(seq).fill(1n), positionIds: BigInt64Array.from({ length: seq }, (_, i) => BigInt(i)), past: null };
      if (embeds.length !== seq * h) throw new Error('attention: wrong size');
      if (way === 'shared') return (await lazily('decoder', () => buildDecoderGraph(config, weights, { kvCache: true, rowsAtRunTime: true }))).run(decoderFeeds(config, step, { logits: [seq - 1], queries: [...queries] }));
      // The attention graph as it was: every query's rows of the asked layers, [heads, seq, seq] each.
      const { past: _none, ...noCache } = step;
      const session = await lazily(`decoder_attentions_${layers.join('_')}`, () => buildDecoderGraph(config, weights, { kvCache: false, lastLogitsOnly: true, attentionLayers: layers }));
      return session.run({ inputs_embeds: new ort.Tensor('float32', noCache.inputsEmbeds, [1, seq, h]), attention_mask: new ort.Tensor('int64', noCache.attentionMask, [1, seq]), position_ids: new ort.Tensor('int64', noCache.positionIds, [1, seq]) });
    },
    release: async () => {
      await Promise.all([embedding.release(), ...[...sessions.values()].map((x) => x.release())]);
    },
  };
}

async function child(args: ChildArgs): Promise<Figures> {
  const config = args.model === 'small' ? readModelConfig(args.dir) : standInConfig(args.dir);
  const weights = args.model === 'small' ? openWeights(args.dir, config) : standInWeights(config);
  const { prefix, lmHead } = textWeightNames(config);
  let weightBytes = 0;
  for (const [name, shape] of weights.shapes) if (name.startsWith(prefix) || name === lmHead) weightBytes += 4 * shape.reduce((a, b) => a * b, 1);
  const t = config.text;
  const base = (await resident()).rss;
  const lm: Driver = args.way === 'after' ? await LanguageModel.create(config, weights) : await manualDriver(args.way, config, weights);
  try {
    const P = args.prompt;
    const ids = Array.from({ length: P }, (_, i) => (i * 7919 + 13) % t.vocabSize);
    const embeds = await lm.embed(ids);
    const embed = (await resident()).rss;
    const ones = (n: number) => new BigInt64Array(n).fill(1n);
    const positions = (from: number, n: number) => BigInt64Array.from({ length: n }, (_, i) => BigInt(from + i));
    const prefill = (lastLogitsOnly: boolean) => lm.forward({ inputsEmbeds: embeds, batch: 1, seq: P, attentionMask: ones(P), positionIds: positions(0, P), past: null, lastLogitsOnly });
    await prefill(true);
    const generation = (await resident()).rss;
    const prefillMs: number[] = [];
    let cache = (await prefill(true)).present;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      cache = (await prefill(true)).present;
      prefillMs.push(performance.now() - t0);
    }
    const token = await lm.embed([ids[P - 1]]);
    const steps: number[] = [];
    for (let s = 0; s < args.decodeSteps + 4; s++) {
      const t0 = performance.now();
      cache = (await lm.forward({ inputsEmbeds: token, batch: 1, seq: 1, attentionMask: ones(P + s + 1), positionIds: positions(P + s, 1), past: cache, lastLogitsOnly: true })).present;
      if (s >= 4) steps.push(performance.now() - t0);
    }
    await prefill(false);
    const fullLogits = (await resident()).rss;
    const f0 = performance.now();
    await prefill(false);
    const fullLogitsMs = performance.now() - f0;
    const layers = Array.from({ length: t.numLayers - Math.floor(t.numLayers / 2) }, (_, i) => Math.floor(t.numLayers / 2) + i);
    // As the judge asks: the later half of the layers, the attention of the last position.
    await lm.attention(embeds, P, layers, [P - 1]);
    const after = await resident();
    const a0 = performance.now();
    await lm.attention(embeds, P, layers, [P - 1]);
    const attentionMs = performance.now() - a0;
    return {
      base, embed, generation, fullLogits, attention: after.rss, peak: (await resident()).peak, weightBytes,
      prefillTps: P / (median(prefillMs) / 1000), decodeMs: median(steps), fullLogitsMs, attentionMs,
    };
  } finally {
    await lm.release();
  }
}

/** One measurement in a fresh process (this file with --child), its figures read from its last stdout line. */
function measure(args: ChildArgs, env: Record<string, string> = {}): Figures {
  const self = fileURLToPath(import.meta.url);
  const run = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', self, '--child', JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, ...env } });
  if (run.status !== 0) throw new Error(`memory bench child (${args.model}, ${args.way}) failed: ${run.stderr || run.stdout}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Figures;
}

const fmt = (xs: readonly number[], digits = 0) => {
  const m = median(xs).toFixed(digits);
  return xs.length < 2 ? m : `${m} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
};

/** glibc's large-allocation threshold fixed at its default: every block of 128 KiB or more is mmapped, so freed ones go back to the system. */
const FIXED_MMAP = { MALLOC_MMAP_THRESHOLD_: '131072' };

function row(label: string, way: string, runs: readonly Figures[]): string {
  const weightsMiB = runs[0].weightBytes / 2 ** 20;
  const col = (pick: (f: Figures) => number, digits = 0) => fmt(runs.map(pick), digits);
  return `| ${label} | ${weightsMiB.toFixed(0)} | ${way} | ${col((f) => f.base)} | ${col((f) => f.embed)} | ${col((f) => f.generation)} | ${col((f) => f.fullLogits)} | ${col((f) => f.attention)} | ${col((f) => (f.attention - f.base) / weightsMiB, 2)} | ${col((f) => f.peak)} | ${col((f) => f.prefillTps)} | ${col((f) => f.decodeMs, 1)} | ${col((f) => f.fullLogitsMs)} | ${col((f) => f.attentionMs)} |`;
}

export async function memorySection(machine: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'isr-bench-memory-'));
  const models: { model: ModelName; dir: string; prompt: number; decodeSteps: number; repeats: number; label: string }[] = [
    { model: 'small', dir: join(dir, 'small'), prompt: 128, decodeSteps: 40, repeats: 3, label: '`small` fixture' },
    { model: 'qwen2-0.5b', dir: join(dir, 'tiny'), prompt: 128, decodeSteps: 16, repeats: 2, label: 'Qwen2-0.5B stand-in' },
  ];
  writeFixture(models[0].dir, { arch: 'llava-onevision', size: 'small', seed: 1, corpus: demoCorpus() });
  writeFixture(models[1].dir, { arch: 'llava-onevision', size: 'tiny', seed: 1, corpus: demoCorpus() });
  const rows: string[] = [];
  const fixedRows: string[] = [];
  const slower: string[] = [];
  try {
    for (const m of models) {
      const args = (way: Way): ChildArgs => ({ way, model: m.model, dir: m.dir, prompt: m.prompt, decodeSteps: m.decodeSteps });
      const got: Record<Way, Figures[]> = { before: [], after: [], shared: [] };
      for (let r = 0; r < m.repeats; r++) {
        for (const way of ways) {
          const f = measure(args(way));
          console.log(`${m.model} ${way}: steady ${f.attention.toFixed(0)} MiB, peak ${f.peak.toFixed(0)} MiB, prefill ${f.prefillTps.toFixed(0)} tok/s, decode ${f.decodeMs.toFixed(1)} ms`);
          got[way].push(f);
        }
      }
      for (const way of ways) rows.push(row(m.label, wayLabel[way], got[way]));
      const decode = (way: Way) => median(got[way].map((f) => f.decodeMs));
      slower.push(`${(decode('shared') / decode('after')).toFixed(2)}x (${m.label})`);
      if (m.model === 'qwen2-0.5b') {
        for (const way of ['before', 'after'] as const) {
          const f = measure(args(way), FIXED_MMAP);
          console.log(`${m.model} ${way} (fixed mmap threshold): steady ${f.attention.toFixed(0)} MiB, peak ${f.peak.toFixed(0)} MiB`);
          fixedRows.push(row(m.label, wayLabel[way], [f]));
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const header = `| model | weights MiB | weights | RSS before | + embeddings | + generation | + full logits | + attention | copies | peak | prefill tok/s | decode ms/token | full-logits ms | attention ms |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|`;
  return `
## Memory: the copies of a model's weights its sessions hold (ONNX Runtime CPU)

${machine}
Command: \`npm run bench -- memory\` (bench/memory.ts). Models: the \`small\` fixture (LLaVA-OneVision, Qwen2 decoder of
8 layers, hidden 512) and a stand-in with Qwen2-0.5B's decoder (hidden 896, 24 layers, 14 heads / 2 KV heads, MLP 4864,
vocab 151936, tied embeddings; random float32 weights). One process per measurement, the ways taking turns, ${models[0].repeats} runs
(small) or ${models[1].repeats} (stand-in) each: median (min–max). Each process creates what a round uses, in this order: token
embeddings, generation (a ${models[0].prompt}-token prefill, then decode steps on the KV cache), full logits of the prompt, and the
judge's attention (later half of the layers, the last position's row). RSS: VmRSS in MiB after a full GC and a
second's pause once that use has run; peak: VmHWM. Copies = (RSS after all of them − RSS before the first) / the
decoder's weight bytes. Prefill: median of 3; decode: median of ${models[0].decodeSteps} (small) or ${models[1].decodeSteps} (stand-in) steps after 4 warm-up steps; full logits,
attention: one pass each. float32, graphOptimizationLevel 'all', ORT's default threads.

Ways: "before": the sessions as they were (embeddings, last-logits decoder, full-logits decoder, attention decoder),
each from its graph's bytes with the weights inline. "after" (LanguageModel now): one decoder session serves all three
uses (its rows chosen by inputs) and owns its weights, so ORT prepacks them; the embeddings (and the vision tower's and
training's sessions, not measured here) are fed the model's one shared copy. "alternative": the same one decoder, fed
the shared copy too.

${header}
${rows.join('\n')}

The stand-in again, one run each, with glibc's mmap threshold fixed (\`MALLOC_MMAP_THRESHOLD_=131072\` in the
environment), so that what the session builds free goes back to the system:

${header}
${fixedRows.join('\n')}

Reading: ONNX Runtime copies every initializer into its session (inline, and as in-memory external data as well,
whose buffers onnxruntime-node moreover keeps alive until the session is released), and onnxruntime-node exposes
no way to share initializers or prepacked weights between sessions; so every decoder session held a copy (and the
attention pass returned every query's rows). A tensor fed as an input is read where it lies, which is how the
sessions other than the decoder share one array per weight (ModelWeights.shared, graph/session.ts). Fed matrices
cannot be prepacked, and at one row (decode) MLAS is much slower on unpacked ones: the alternative holds about one
copy, but its decode steps take ${slower.join(', ')} as long, so the decoder owns its copy. What "after" holds beyond the weights is the tied
embedding a second time (the embedding session's shared array and the decoder's prepacked head) and, with glibc's
default adaptive threshold, freed memory of the session build that glibc keeps (the second table shows it gone).
`;
}

if (process.argv[2] === '--child') {
  const figures = await child(JSON.parse(process.argv[3]) as ChildArgs);
  console.log(JSON.stringify(figures));
}
