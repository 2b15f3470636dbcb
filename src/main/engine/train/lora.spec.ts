import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../generate/sampling';
import { SafetensorsFile } from '../graph/safetensors';
import { dpoForward, tinyDecoder, tinyDims } from '../testing/tiny-decoder';
import {
  defaultLoraConfig, initLora, isLoraTarget, loraScale, mergeLora, peftKeys, pythonFloat, readAdapter, writeAdapter,
  type Adapter, type LoraFactors,
} from './lora';
import { buildLossGraph } from './train-step';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-spec-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const targets = defaultLoraConfig.targets as string[];
const config = { ...defaultLoraConfig, r: 2, alpha: 4 };
// The modules a one-layer Qwen2/Llama decoder offers, found by building its training forward.
const modules = buildLossGraph(dpoForward(tinyDecoder(1, { ...tinyDims, layers: 1 }), { loss: 'sigmoid', beta: 0.1 }), config).modules;

/** Trained-looking factors: A from PEFT's init, B random (it is zero only before training). */
function factors(seed: number): Map<string, LoraFactors> {
  const rng = new Rng(seed);
  return new Map(modules.map((m) => {
    const f = initLora(rng, m, config.r);
    f.b.data.forEach((_, i) => { f.b.data[i] = rng.next() - 0.5; });
    return [m.module, f];
  }));
}

// What PEFT 0.17's save_pretrained writes for LoraConfig(r=2, lora_alpha=4, target_modules=[...],
// task_type="CAUSAL_LM") on this base model: json.dumps(indent=2, sort_keys=True), no final newline.
const expectedConfig = `{
  "alpha_pattern": {},
  "auto_mapping": null,
  "base_model_name_or_path": "llava-hf/llava-onevision-qwen2-0.5b-ov-hf",
  "bias": "none",
  "corda_config": null,
  "eva_config": null,
  "exclude_modules": null,
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layer_replication": null,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 4,
  "lora_bias": false,
  "lora_dropout": 0.0,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "qalora_group_size": 16,
  "r": 2,
  "rank_pattern": {},
  "revision": null,
  "target_modules": [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj"
  ],
  "target_parameters": null,
  "task_type": "CAUSAL_LM",
  "trainable_token_indices": null,
  "use_dora": false,
  "use_qalora": false,
  "use_rslora": false
}`;

describe('LoRA configuration and init (PEFT defaults)', () => {
  it('defaults to r 16, alpha 32, no dropout, the seven Llama projections; scale alpha / r', () => {
    expect(defaultLoraConfig).toMatchObject({ r: 16, alpha: 32, dropout: 0 });
    expect(targets).toEqual(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']);
    expect(loraScale(defaultLoraConfig)).toBe(2);
    expect(loraScale({ ...defaultLoraConfig, useRslora: true })).toBe(8);
  });

  it('matches target modules as PEFT does: exact or dotted suffix for a list, full match for a regex', () => {
    expect(isLoraTarget('model.layers.3.self_attn.q_proj', targets)).toBe(true);
    expect(isLoraTarget('q_proj', targets)).toBe(true);
    expect(isLoraTarget('model.layers.3.self_attn.xq_proj', targets)).toBe(false);
    expect(isLoraTarget('model.layers.3.mlp.down_proj', '.*layers\\.3\\..*_proj')).toBe(true);
    expect(isLoraTarget('model.layers.13.mlp.down_proj', '.*layers\\.3\\..*_proj')).toBe(false);
  });

  it('draws A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a = sqrt 5) from the seed, B = 0', () => {
    const m = { module: 'x', inFeatures: 400, outFeatures: 30 };
    const f = initLora(new Rng(9), m, 16);
    expect(f.a.dims).toEqual([400, 16]);
    expect(f.b.dims).toEqual([16, 30]);
    expect(f.b.data.every((x) => x === 0)).toBe(true);
    const bound = 1 / 20;
    expect(f.a.data.every((x) => Math.abs(x) <= bound)).toBe(true);
    const mean = f.a.data.reduce((s, x) => s + x, 0) / f.a.data.length;
    const variance = f.a.data.reduce((s, x) => s + x * x, 0) / f.a.data.length;
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(variance).toBeCloseTo(bound ** 2 / 3, 4);
    expect(initLora(new Rng(9), m, 16).a.data).toEqual(f.a.data);
  });
});

describe('PEFT adapter files', () => {
  const adapter: Adapter = { config, factors: factors(4), baseModel: 'llava-hf/llava-onevision-qwen2-0.5b-ov-hf', taskType: 'CAUSAL_LM' };
  const dir = path.join(root, 'adapter');
  writeAdapter(dir, adapter, 'language_model.');

  it('writes the keys, shapes and metadata PEFT saves, under the full module path', () => {
    const file = SafetensorsFile.open(path.join(dir, 'adapter_model.safetensors'));
    const expectedKeys = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj']
      .flatMap((m) => ['A', 'B'].map((f) => `base_model.model.language_model.model.layers.0.${m}.lora_${f}.weight`));
    expect(file.names().sort()).toEqual(expectedKeys.sort());
    const kv = tinyDims.kvHeads * tinyDims.headDim;
    const sizes: Record<string, [number, number]> = {
      'self_attn.q_proj': [8, 8], 'self_attn.k_proj': [8, kv], 'self_attn.v_proj': [8, kv], 'self_attn.o_proj': [8, 8],
      'mlp.gate_proj': [8, 12], 'mlp.up_proj': [8, 12], 'mlp.down_proj': [12, 8],
    };
    for (const [module, [inF, outF]] of Object.entries(sizes)) {
      const keys = peftKeys(`model.layers.0.${module}`, 'language_model.');
      expect(file.info(keys.a)).toMatchObject({ dtype: 'F32', shape: [2, inF] });
      expect(file.info(keys.b)).toMatchObject({ dtype: 'F32', shape: [outF, 2] });
    }
    expect(file.metadata).toEqual({ format: 'pt' });
    file.close();
  });

  it('writes adapter_config.json byte for byte as PEFT does', () => {
    expect(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')).toBe(expectedConfig);
    const other = path.join(root, 'other');
    writeAdapter(other, { ...adapter, baseModel: '/models/modèle', config: { ...config, dropout: 0.05, targets: '.*_proj' } }, '');
    const text = fs.readFileSync(path.join(other, 'adapter_config.json'), 'utf8');
    expect(text).toContain('"base_model_name_or_path": "/models/mod\\u00e8le",');
    expect(text).toContain('"lora_dropout": 0.05,');
    expect(text).toContain('"target_modules": ".*_proj",');
  });

  it('formats floats as Python repr does', () => {
    expect([0, 0.05, 0.1, 1e-4, 1e-5, 1.5e-7, 123, 1e15, 1e16, 2.5e20].map(pythonFloat)).toEqual(
      ['0.0', '0.05', '0.1', '0.0001', '1e-05', '1.5e-07', '123.0', '1000000000000000.0', '1e+16', '2.5e+20'],
    );
  });

  it('reads back what it wrote: config and factors, bit for bit', () => {
    const back = readAdapter(dir, 'language_model.');
    expect(back.config).toEqual({ ...config, targets, useRslora: false });
    expect(back.baseModel).toBe(adapter.baseModel);
    expect(back.taskType).toBe('CAUSAL_LM');
    expect([...back.factors.keys()].sort()).toEqual([...adapter.factors.keys()].sort());
    for (const [module, f] of adapter.factors) {
      const g = back.factors.get(module)!;
      expect(g.a.dims).toEqual(f.a.dims);
      expect(g.b.dims).toEqual(f.b.dims);
      expect(g.a.data).toEqual(f.a.data);
      expect(g.b.data).toEqual(f.b.data);
    }
  });

  it('refuses adapters it cannot apply faithfully, naming the file', () => {
    const dora = path.join(root, 'dora');
    writeAdapter(dora, adapter, 'language_model.');
    const file = path.join(dora, 'adapter_config.json');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"use_dora": false', '"use_dora": true'));
    expect(() => readAdapter(dora, 'language_model.')).toThrow(/adapter_config\.json: use_dora/);
    expect(() => readAdapter(dir, 'model.text_model.')).toThrow(/not a LoRA factor under 'base_model\.model\.model\.text_model\.'/);
  });

  it('merges W + scale * B @ A in torch layout, as PEFT get_delta_weight', () => {
    const file = SafetensorsFile.open(path.join(dir, 'adapter_model.safetensors'));
    const module = 'model.layers.0.mlp.down_proj';
    const keys = peftKeys(module, 'language_model.');
    const [r, inF] = file.info(keys.a).shape;
    const outF = file.info(keys.b).shape[0];
    const A = file.readAsFloat32(keys.a); // [r, in]
    const B = file.readAsFloat32(keys.b); // [out, r]
    file.close();
    const rng = new Rng(2);
    const W = Float32Array.from({ length: outF * inF }, () => rng.next() - 0.5);
    const scale = loraScale(config);
    const f = adapter.factors.get(module)!;
    const merged = mergeLora(W, f.a, f.b, scale);
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        let ba = 0;
        for (let k = 0; k < r; k++) ba += B[o * r + k] * A[k * inF + i];
        expect(merged[o * inF + i]).toBe(Math.fround(W[o * inF + i] + scale * ba));
      }
    }
  });
});
