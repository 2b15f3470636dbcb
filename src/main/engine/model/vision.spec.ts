import * as ort from 'onnxruntime-node';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../shared/prng';
import { GraphBuilder } from '../graph/builder';
import { serialize } from '../graph/onnx';
import { runReference, tensor64 } from '../graph/reference';
import { Session } from '../graph/session';
import type { ModelConfig } from './config';
import type { Idefics3Config, LlavaOnevisionConfig } from './families';
import { fixtureArchs, writeFixture, type FixtureArch } from './fixture';
import { naiveVisionForward } from '../testing/naive/vision';
import { addVisualRows, buildVisionGraph, towerTokensPerFrame, visionGrid, visionTokensPerFrame, visionWeightPrefix, VisionEncoder } from './vision';
import { poolVideoFeatures } from './video-pooling';
import { openWeights, patchesPerSide, type ModelWeights } from './weights';

const corpus = ['What colour is the square?', 'Which way does the red circle move?'];
// float32 ONNX Runtime against float64 loops: the largest difference over the largest magnitude of
// the features. It measures ~5e-7 on the tiny fixture; 1e-4 leaves room and still catches any
// structural mistake (a wrong patch or shuffle order, or post_layernorm on LLaVA's features, gives 0.5-1).
const TOLERANCE = 1e-4;
// The builder graph in the float64 reference interpreter differs from the loops only by its
// float32-rounded constants (GELU's coefficients).
const REFERENCE_TOLERANCE = 1e-6;
const FRAMES = 3;

// What each family's vision graph holds, by the family modules' own account (docs/families.md).
const graphFacts: Record<string, { projectorNode: string; postLayerNorm: boolean }> = {
  'llava-onevision': { projectorNode: '/multi_modal_projector/linear_1/MatMul', postLayerNorm: false },
  idefics3: { projectorNode: '/connector/modality_projection/proj/MatMul', postLayerNorm: true },
  smolvlm: { projectorNode: '/connector/modality_projection/proj/MatMul', postLayerNorm: true },
};

// The host path of one video's rows, written out here: LLaVA-OneVision pools and appends
// image_newline, Idefics3 keeps each frame's rows.
const hostRows: Record<string, (config: ModelConfig, weights: ModelWeights, perFrame: Float32Array, frames: number) => Float32Array> = {
  'llava-onevision': (config, weights, perFrame, frames) => poolVideoFeatures(perFrame, frames, visionGrid(config).rows, config.text.hiddenSize, weights.get('image_newline')),
  idefics3: (_config, _weights, perFrame) => perFrame,
  smolvlm: (_config, _weights, perFrame) => perFrame,
};

const opened: ModelWeights[] = [];
afterAll(() => opened.forEach((w) => w.close()));

function tiny(arch: FixtureArch): { config: ModelConfig; weights: ModelWeights } {
  const dir = mkdtempSync(join(tmpdir(), 'isr-vision-'));
  const { config } = writeFixture(dir, { arch, size: 'tiny', seed: 23, corpus });
  const weights = openWeights(dir, config);
  opened.push(weights);
  return { config, weights };
}

/** Pixel values as the preprocessor gives them (about [-1, 1]), seeded. */
function pixels(config: ModelConfig, frames: number): Float32Array {
  const next = mulberry32(7);
  return Float32Array.from({ length: frames * 3 * config.vision.imageSize ** 2 }, () => next() * 2 - 1);
}

/** max |a - b| / max |b|. */
function relativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

async function encode(config: ModelConfig, weights: ModelWeights, input: Float32Array, frames: number, chunk?: number): Promise<Float32Array> {
  const encoder = await VisionEncoder.create(config, weights);
  try {
    return await encoder.encode(input, frames, chunk);
  } finally {
    await encoder.release();
  }
}

function reference(config: ModelConfig, weights: ModelWeights, input: Float32Array, frames: number): ArrayLike<number> {
  const s = config.vision.imageSize;
  const out = runReference(buildVisionGraph(config, weights), { pixel_values: tensor64('float32', [frames, 3, s, s], input) });
  return out.image_features.data;
}

describe.each(fixtureArchs)('%s vision graph', (arch) => {
  const { config, weights } = tiny(arch);
  const input = pixels(config, FRAMES);
  const hidden = config.text.hiddenSize;

  it('takes pixel_values and gives image_features [frames, tokens, text hidden], with HF-named weights and readable nodes', () => {
    const g = buildVisionGraph(config, weights);
    const s = config.vision.imageSize;
    const tokens = visionTokensPerFrame(config);
    expect(g.inputs.map((i) => [i.name, i.dtype, i.shape])).toEqual([['pixel_values', 'float32', ['frames', 3, s, s]]]);
    expect(g.outputs.map((o) => [o.name, o.dtype, o.shape])).toEqual([['image_features', 'float32', ['frames', tokens, hidden]]]);
    const names = g.nodes.map((n) => n.name);
    expect(names).toContain('/vision_tower/encoder/layers.0/self_attn/q_proj/MatMul');
    expect(names).toContain('/vision_tower/embeddings/patch_embedding/MatMul');
    expect(names).toContain(graphFacts[arch].projectorNode);
    expect(g.nodes.some((n) => n.opType === 'Conv')).toBe(false);
    // A torch Linear [out, in] is stored transposed, in MatMul layout [in, out].
    const name = `${visionWeightPrefix(config)}encoder.layers.0.mlp.fc1.weight`;
    const stored = g.initializers.get(name)!;
    const { hiddenSize: d, intermediateSize: m } = config.vision;
    expect(stored.dims).toEqual([d, m]);
    const torch = weights.get(name);
    expect(stored.data[1 * m + 2]).toBe(torch[2 * d + 1]);
    // LLaVA-OneVision takes the last layer's output before post_layernorm; Idefics3 applies it.
    expect(g.initializers.has(`${visionWeightPrefix(config)}post_layernorm.weight`)).toBe(graphFacts[arch].postLayerNorm);
  });

  it(`matches the float64 loops in ONNX Runtime (relative ${TOLERANCE}) and in the reference interpreter (${REFERENCE_TOLERANCE})`, async () => {
    const naive = naiveVisionForward(config, weights, input, FRAMES);
    const ort = await encode(config, weights, input, FRAMES);
    expect(ort.length).toBe(FRAMES * visionTokensPerFrame(config) * hidden);
    expect(relativeDiff(ort, naive)).toBeLessThan(TOLERANCE);
    expect(relativeDiff(reference(config, weights, input, FRAMES), naive)).toBeLessThan(REFERENCE_TOLERANCE);
  });

  it('gives the same features in chunks of 1 as in one chunk of 3', async () => {
    const encoder = await VisionEncoder.create(config, weights);
    try {
      const whole = await encoder.encode(input, FRAMES, 3);
      const chunked = await encoder.encode(input, FRAMES, 1);
      // Identical on CPU today; the bound allows a provider whose kernels block by batch size.
      expect(relativeDiff(chunked, whole)).toBeLessThan(1e-6);
      // Each frame's rows come from that frame alone.
      const second = await encoder.encode(input.subarray(input.length / FRAMES, 2 * input.length / FRAMES), 1);
      const rows = encoder.tokensPerFrame * encoder.hiddenSize;
      expect(relativeDiff(whole.subarray(rows, 2 * rows), second)).toBeLessThan(1e-6);
    } finally {
      await encoder.release();
    }
  });

  it('names pixel_values and the expected length when the input has the wrong size', async () => {
    const encoder = await VisionEncoder.create(config, weights);
    try {
      const s = config.vision.imageSize;
      await expect(encoder.encode(input.subarray(1), FRAMES)).rejects.toThrow(`pixel_values has ${input.length - 1} values; 3 frames of [3, ${s}, ${s}] need ${input.length}`);
    } finally {
      await encoder.release();
    }
  });
});

describe('LLaVA-OneVision feature selection', () => {
  const loaded = tiny('llava-onevision');
  const { weights } = loaded;
  const config = loaded.config as LlavaOnevisionConfig;
  const variant = (change: Partial<LlavaOnevisionConfig>): LlavaOnevisionConfig => ({ ...config, ...change });
  const input = pixels(config, 2);

  it('would catch post_layernorm applied to the selected hidden state', async () => {
    const wrong = naiveVisionForward(config, weights, input, 2, { postLayerNorm: true });
    const ort = await encode(config, weights, input, 2);
    expect(relativeDiff(ort, wrong)).toBeGreaterThan(100 * TOLERANCE);
  });

  it.each([
    { layer: -2, strategy: 'full' as const },
    { layer: 0, strategy: 'full' as const },
    { layer: 1, strategy: 'default' as const },
  ])('follows hidden_states[$layer] with strategy $strategy', ({ layer, strategy }) => {
    const variant = { ...config, visionFeatureLayer: layer, visionFeatureSelectStrategy: strategy };
    const naive = naiveVisionForward(variant, weights, input, 2);
    expect(naive.length).toBe(2 * visionTokensPerFrame(variant) * config.text.hiddenSize);
    expect(relativeDiff(reference(variant, weights, input, 2), naive)).toBeLessThan(REFERENCE_TOLERANCE);
    // Only the layers up to the selected one are in the graph.
    const used = layer < 0 ? config.vision.numLayers + 1 + layer : layer;
    const g = buildVisionGraph(variant, weights);
    expect(g.nodes.some((n) => n.name.startsWith(`/vision_tower/encoder/layers.${used}/`))).toBe(false);
  });

  it('counts tokens and grids per strategy and rejects a layer outside the tower', () => {
    const side = patchesPerSide(config.vision);
    expect(visionTokensPerFrame(config)).toBe(side * side);
    expect(visionGrid(config)).toEqual({ rows: side, cols: side });
    const dropped = { ...config, visionFeatureSelectStrategy: 'default' as const };
    expect(visionTokensPerFrame(dropped)).toBe(side * side - 1);
    expect(() => visionGrid(dropped)).toThrow(/form no patch grid/);
    // SigLIP at 384 / 14: the conv floors to 27 x 27.
    expect(visionTokensPerFrame({ ...config, vision: { ...config.vision, imageSize: 384, patchSize: 14 } })).toBe(729);
    expect(() => buildVisionGraph(variant({ visionFeatureLayer: -4 }), weights)).toThrow(/vision_feature_layer -4 is outside the tower's 3 hidden states \(-3\.\.2\)/);
  });
});

describe('Idefics3 connector and activation', () => {
  const loaded = tiny('idefics3');
  const { weights } = loaded;
  const config = loaded.config as Idefics3Config;
  const variant = (change: Partial<Idefics3Config>): Idefics3Config => ({ ...config, ...change });
  const input = pixels(config, 1);

  it('shuffles scale x scale patches into one token and sizes the grid accordingly', () => {
    const side = patchesPerSide(config.vision) / config.scaleFactor;
    expect(visionTokensPerFrame(config)).toBe(side * side);
    expect(visionGrid(config)).toEqual({ rows: side, cols: side });
    // SmolVLM: 512 / 16 = 32 patches a side, scale 4: 64 tokens.
    expect(visionTokensPerFrame(variant({ scaleFactor: 4, vision: { ...config.vision, imageSize: 512, patchSize: 16 } }))).toBe(64);
    expect(() => visionTokensPerFrame(variant({ scaleFactor: 3 }))).toThrow(/cannot be pixel-shuffled by scale_factor 3/);
  });

  it('uses the configured hidden_act (exact GELU when "gelu")', async () => {
    const erfVariant = { ...config, vision: { ...config.vision, hiddenAct: 'gelu' as const } };
    const naive = naiveVisionForward(erfVariant, weights, input, 1);
    expect(relativeDiff(await encode(erfVariant, weights, input, 1), naive)).toBeLessThan(TOLERANCE);
    // The two GELUs differ by ~1e-3 at most, which the features show well above float32 noise.
    expect(relativeDiff(naiveVisionForward(config, weights, input, 1), naive)).toBeGreaterThan(10 * REFERENCE_TOLERANCE);
  });
});

describe.each(fixtureArchs)('%s visual rows in a graph', (arch) => {
  it('equals the host path (tower + projector, pooling and image_newline per video) for several videos', async () => {
    const { config, weights } = tiny(arch);
    const frames = 2;
    const videos = 2;
    const px = pixels(config, videos * frames);
    const tower = await VisionEncoder.create(config, weights, {}, 'tower');
    const features = await VisionEncoder.create(config, weights);
    const towerOut = await tower.encode(px, videos * frames);
    const perFrame = await features.encode(px, videos * frames);
    await Promise.all([tower.release(), features.release()]);

    // The host path, video by video, as VideoLanguageModel.visualFeatures does it.
    const h = config.text.hiddenSize;
    const expected: number[] = [];
    const rows = perFrame.length / videos;
    for (let v = 0; v < videos; v++) {
      const one = perFrame.subarray(v * rows, (v + 1) * rows);
      expected.push(...hostRows[arch](config, weights, one, frames));
    }

    const b = new GraphBuilder('visual_rows');
    const input = b.input('tower', 'float32', ['frames', towerTokensPerFrame(config), config.vision.hiddenSize]);
    b.output(addVisualRows(b, config, weights, input, frames), 'rows');
    const session = await Session.create(serialize(b.build()), { graphName: 'visual_rows' });
    const out = await session.run({ tower: new ort.Tensor('float32', towerOut, [videos * frames, towerTokensPerFrame(config), config.vision.hiddenSize]) });
    await session.release();
    expect(out.rows.dims).toEqual([expected.length / h, h]);
    expect(relativeDiff(out.rows.data as Float32Array, expected)).toBeLessThan(TOLERANCE);
  });
});
