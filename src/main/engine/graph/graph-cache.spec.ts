import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildDecoderGraph } from '../model/decoder';
import { writeFixture } from '../model/fixture';
import { openWeights } from '../model/weights';
import { GRAPH_CACHE_ENTRIES, graphCacheFile, loadOptimised } from './graph-cache';
import { Session } from './session';
import { serialize } from './onnx';

const { config, weights } = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'isr-graph-cache-model-'));
  const written = writeFixture(dir, { arch: 'idefics3', size: 'tiny', seed: 4, corpus: ['a red square moves left'] });
  return { config: written.config, weights: openWeights(dir, written.config) };
})();
const t = config.text;

/** One forward of the decoder graph (no cache) on fixed embeddings: its logits. */
async function logitsOf(session: Session): Promise<Float32Array> {
  const seq = 5;
  const out = await session.run({
    inputs_embeds: new ort.Tensor('float32', Float32Array.from({ length: seq * t.hiddenSize }, (_, i) => Math.sin(i)), [1, seq, t.hiddenSize]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(seq).fill(1n), [1, seq]),
    position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: seq }, (_, i) => BigInt(i)), [1, seq]),
  }, ['logits']);
  return out.logits.data as Float32Array;
}

describe('the cache of optimised graphs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'isr-graph-cache-'));
    vi.stubEnv('ISR_GRAPH_CACHE', dir);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('loads the graph ONNX Runtime optimised from its file, kept for the next session, which computes the same', async () => {
    const plain = await Session.create(buildDecoderGraph(config, weights, { kvCache: false }), { graphName: 'decoder', optimizationLevel: 'disabled' });
    const expected = await logitsOf(plain);
    await plain.release();
    const create = vi.spyOn(ort.InferenceSession, 'create');
    const first = await Session.create(buildDecoderGraph(config, weights, { kvCache: false }), { graphName: 'decoder' });
    const kept = readdirSync(dir);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatch(/^[0-9a-f]{32}\.onnx$/);
    // A session only to write the optimised graph, then the one that runs, from the file.
    expect(create.mock.calls.map(([model, options]) => [typeof model === 'string' ? model : 'bytes', options?.graphOptimizationLevel, options?.optimizedModelFilePath === undefined ? '' : 'writes'])).toEqual([
      ['bytes', 'all', 'writes'], [join(dir, kept[0]), 'disabled', ''],
    ]);
    expect(maxDiff(await logitsOf(first), expected)).toBeLessThan(1e-5);
    await first.release();

    create.mockClear();
    const again = await Session.create(buildDecoderGraph(config, weights, { kvCache: false }), { graphName: 'decoder' });
    expect(create.mock.calls.map(([model, options]) => [model, options?.graphOptimizationLevel])).toEqual([[join(dir, kept[0]), 'disabled']]);
    expect(maxDiff(await logitsOf(again), expected)).toBeLessThan(1e-5);
    await again.release();
  });

  it('keeps one entry per graph, none when optimisation is off, and none with ISR_GRAPH_CACHE=off', async () => {
    for (const kvCache of [false, true]) await (await Session.create(buildDecoderGraph(config, weights, { kvCache }), { graphName: 'decoder' })).release();
    expect(readdirSync(dir)).toHaveLength(2);
    await (await Session.create(buildDecoderGraph(config, weights, { kvCache: true, rowsAtRunTime: true }), { graphName: 'decoder', optimizationLevel: 'disabled' })).release();
    expect(readdirSync(dir)).toHaveLength(2);
    // Off: still from the optimised file, written in a temporary folder that is gone once loaded.
    vi.stubEnv('ISR_GRAPH_CACHE', 'off');
    const create = vi.spyOn(ort.InferenceSession, 'create');
    await (await Session.create(buildDecoderGraph(config, weights, { kvCache: true, rowsAtRunTime: true }), { graphName: 'decoder' })).release();
    expect(readdirSync(dir)).toHaveLength(2);
    const loaded = String(create.mock.calls[1][0]);
    expect(loaded.startsWith(tmpdir())).toBe(true);
    expect(existsSync(loaded)).toBe(false);
  });

  it('makes an entry ONNX Runtime cannot load again, and optimises in the session where no file can be written', async () => {
    const graph = buildDecoderGraph(config, weights, { kvCache: false });
    const expected = await logitsOf(await Session.create(graph, { graphName: 'decoder', optimizationLevel: 'disabled' }));
    const first = await Session.create(graph, { graphName: 'decoder' });
    await first.release();
    const [entry] = readdirSync(dir);
    writeFileSync(join(dir, entry), 'not a model');
    const repaired = await Session.create(graph, { graphName: 'decoder' });
    expect(maxDiff(await logitsOf(repaired), expected)).toBeLessThan(1e-5);
    expect(readFileSync(join(dir, entry)).length).toBeGreaterThan(100);

    const blocked = join(dir, 'a-file');
    writeFileSync(blocked, '');
    vi.stubEnv('ISR_GRAPH_CACHE', join(blocked, 'graphs'));
    const uncached = await Session.create(graph, { graphName: 'decoder' });
    expect(maxDiff(await logitsOf(uncached), expected)).toBeLessThan(1e-5);
  });

  it(`keeps the ${GRAPH_CACHE_ENTRIES} entries used last`, async () => {
    const old = Array.from({ length: GRAPH_CACHE_ENTRIES }, (_, i) => join(dir, `${String(i).padStart(32, '0')}.onnx`));
    old.forEach((path, i) => {
      writeFileSync(path, '');
      utimesSync(path, 1000 + i, 1000 + i);
    });
    // What killed processes leave: an old partial file goes, a recent one (another process writing it) stays.
    const [oldPartial, newPartial] = ['a.onnx.1.partial', 'b.onnx.2.partial'].map((f) => join(dir, f));
    writeFileSync(oldPartial, '');
    utimesSync(oldPartial, 1000, 1000);
    writeFileSync(newPartial, '');
    const model = serialize(buildDecoderGraph(config, weights, { kvCache: false }));
    await (await loadOptimised(model, { graphOptimizationLevel: 'all' }, dir)).release();
    expect(existsSync(oldPartial)).toBe(false);
    expect(existsSync(newPartial)).toBe(true);
    rmSync(newPartial);
    const left = readdirSync(dir);
    expect(left).toHaveLength(GRAPH_CACHE_ENTRIES);
    expect(left).toContain(graphCacheFile(dir, model, { graphOptimizationLevel: 'all' }).slice(dir.length + 1));
    expect(left).not.toContain(old[0].slice(dir.length + 1));
    expect(left).toContain(old[1].slice(dir.length + 1));
    // The key covers the optimisation level.
    expect(graphCacheFile(dir, model, { graphOptimizationLevel: 'basic' })).not.toBe(graphCacheFile(dir, model, { graphOptimizationLevel: 'all' }));
  });
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
}
