import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bf16BitsToFloat32, float32ToBF16Bits } from '../graph/half-float';
import { openCheckpoint, writeCheckpoint, type TensorToWrite } from '../graph/safetensors';
import { readModelConfig } from '../model/config';
import { writeFixture } from '../model/fixture';
import { openWeights } from '../model/weights';
import { defaultLoraConfig, loraInputNames, loraScale } from './lora';
import { PeftExport } from './peft-export';
import type { TrainState } from './state';

const corpus = ['What colour is the square?', 'Which way does the red circle move?'];

/** A tiny LLaVA-OneVision folder stored as a published one is: BF16 shards, an index, processor files. */
function bf16ShardedSource(): string {
  const dir = mkdtempSync(join(tmpdir(), 'isr-peft-source-'));
  writeFixture(dir, { arch: 'llava-onevision', size: 'tiny', seed: 4, corpus });
  const source = openCheckpoint(dir);
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of source.names()) tensors[name] = { dtype: 'BF16', shape: source.info(name).shape, data: float32ToBF16Bits(source.readAsFloat32(name)) };
  source.close();
  rmSync(join(dir, 'model.safetensors'));
  writeCheckpoint(dir, tensors, { maxShardBytes: 40_000, metadata: { format: 'pt' } });
  writeFileSync(join(dir, 'processor_config.json'), '{"num_image_tokens": 16}\n');
  writeFileSync(join(dir, 'chat_template.jinja'), '{{ messages }}');
  writeFileSync(join(dir, 'special_tokens_map.json'), '{}\n');
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
  return dir;
}

/** Seeded factors A [in, r] and B [r, out] for `module` (relative to the decoder stack). */
function factors(state: TrainState, module: string, inF: number, outF: number, r: number, seed: number): void {
  const values = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3 + k) * 0.2);
  const names = loraInputNames(`model.${module}`);
  state.params[names.a] = { dims: [inF, r], data: values(inF * r, 0) };
  state.params[names.b] = { dims: [r, outF], data: values(r * outF, 1) };
}

describe('writeMerged', () => {
  it('writes a BF16 sharded source as BF16 shards with the same index, merged as W + scale * B @ A rounded to BF16', () => {
    const sourceDir = bf16ShardedSource();
    const out = join(mkdtempSync(join(tmpdir(), 'isr-peft-merged-')), 'merged');
    const config = readModelConfig(sourceDir);
    const weights = openWeights(sourceDir, config);
    const lora = { ...defaultLoraConfig, r: 2, alpha: 4 };
    const state: TrainState = { step: 1, params: {}, m: {}, v: {}, rng: [], epoch: 0, order: [], cursor: 0 };
    const h = config.text.hiddenSize;
    const kv = config.text.numKvHeads * config.text.headDim;
    factors(state, 'layers.0.self_attn.q_proj', h, h, 2, 1);
    factors(state, 'layers.1.self_attn.v_proj', h, kv, 2, 2);
    new PeftExport({ config, weights }, { lora, trainProjector: false, trainEmbeddings: false }).writeMerged(out, sourceDir, state);

    const index = (dir: string) => readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8');
    expect(index(out)).toBe(index(sourceDir));
    const sourceFiles = readdirSync(sourceDir).sort();
    expect(sourceFiles.filter((f) => f.startsWith('model-')).length).toBeGreaterThan(1);
    expect(readdirSync(out).sort()).toEqual(sourceFiles);
    for (const file of ['processor_config.json', 'chat_template.jinja', 'special_tokens_map.json', 'merges.txt', 'config.json', 'tokenizer.json']) {
      expect(readFileSync(join(out, file), 'utf8'), file).toBe(readFileSync(join(sourceDir, file), 'utf8'));
    }

    const before = openCheckpoint(sourceDir);
    const after = openCheckpoint(out);
    try {
      for (const name of before.names()) expect(after.info(name), name).toEqual(before.info(name));
      expect(after.readBytes('language_model.model.layers.0.mlp.up_proj.weight')).toEqual(before.readBytes('language_model.model.layers.0.mlp.up_proj.weight'));
      const scale = loraScale(lora);
      for (const [module, outF] of [['layers.0.self_attn.q_proj', h], ['layers.1.self_attn.v_proj', kv]] as const) {
        const name = `language_model.model.${module}.weight`;
        const w = bf16BitsToFloat32(before.read(name) as Uint16Array);
        const { a, b } = { a: state.params[`model.${module}.lora_A`], b: state.params[`model.${module}.lora_B`] };
        // Independently: W[o, i] + scale * sum_k A[i, k] B[k, o] in float64, then to the nearest BF16.
        const expected = new Float64Array(w.length);
        for (let o = 0; o < outF; o++) {
          for (let i = 0; i < h; i++) {
            let delta = 0;
            for (let k = 0; k < 2; k++) delta += a.data[i * 2 + k] * b.data[k * outF + o];
            expected[o * h + i] = w[o * h + i] + scale * delta;
          }
        }
        const got = after.read(name) as Uint16Array;
        expect([...got], name).toEqual([...float32ToBF16Bits(Float32Array.from(expected))]);
        expect([...got]).not.toEqual([...(before.read(name) as Uint16Array)]);
      }
    } finally {
      before.close();
      after.close();
      weights.close();
    }
  });
});
