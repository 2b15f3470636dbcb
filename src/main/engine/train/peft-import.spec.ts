import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint, SafetensorsFile, writeSafetensors, type TensorToWrite } from '../graph/safetensors';
import { readModelConfig, type ModelConfig } from '../model/config';
import { writeFixture } from '../model/fixture';
import { openWeights, type ModelWeights } from '../model/weights';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, decoderLinearModules, isLoraTarget, loraInputNames, writeAdapter } from './lora';
import { PeftExport } from './peft-export';
import { adapterMismatches, adapterParams, readModelAdapter, type AdapterExpectation } from './peft-import';
import { embeddingParams, projectorParams } from './whole-tensors';
import type { TrainState } from './state';

let root: string;
let model: string;
let config: ModelConfig;
let weights: ModelWeights;
const lora = { r: 2, alpha: 4, dropout: 0, targets: ['q_proj', 'v_proj', 'down_proj'] };
const expected: AdapterExpectation = { lora, trainProjector: true, trainEmbeddings: true };

/** Seeded values, different for every tensor. */
const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 3.7 + i * 0.61) * 0.1);

/** A training state as the studio's trainer leaves one: factors for every targeted decoder layer, a changed projector, embeddings and head. */
function trainedState(): TrainState {
  const state: TrainState = { step: 3, params: {}, m: {}, v: {}, rng: [], epoch: 1, order: [], cursor: 0 };
  const shapes = readShapes();
  let seed = 1;
  for (const [module, [outF, inF]] of shapes) {
    if (!isLoraTarget(module, lora.targets)) continue;
    const names = loraInputNames(module);
    state.params[names.a] = { dims: [inF, lora.r], data: values(inF * lora.r, seed++) };
    state.params[names.b] = { dims: [lora.r, outF], data: values(lora.r * outF, seed++) };
  }
  for (const { name, dims } of [...projectorParams(config), ...embeddingParams(config)]) state.params[name] = { dims, data: values(dims.reduce((a, b) => a * b, 1), seed++) };
  return state;
}

/** [out, in] of each decoder linear layer, by its PEFT name relative to the text model. */
function readShapes(): Map<string, number[]> {
  const source = openCheckpoint(model);
  try {
    return new Map(decoderLinearModules(config).map((m) => [m, source.info(`language_model.${m}.weight`).shape]));
  } finally {
    source.close();
  }
}

/** The adapter folder `dir` with every tensor name rewritten, as another layout of the family saves it. */
function renamed(dir: string, rename: (name: string) => string): string {
  const out = join(root, `renamed-${readdirSync(root).length}`);
  mkdirSync(out);
  copyFileSync(join(dir, ADAPTER_CONFIG), join(out, ADAPTER_CONFIG));
  const file = SafetensorsFile.open(join(dir, ADAPTER_WEIGHTS));
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of file.names()) tensors[rename(name)] = { dtype: 'F32', shape: file.info(name).shape, data: file.readAsFloat32(name) };
  file.close();
  writeSafetensors(join(out, ADAPTER_WEIGHTS), tensors, { format: 'pt' });
  return out;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'isr-peft-import-'));
  model = join(root, 'model');
  writeFixture(model, { arch: 'llava-onevision', size: 'tiny', seed: 7, corpus: ['What colour is the square?'] });
  config = readModelConfig(model);
  weights = openWeights(model, config);
});
afterAll(() => {
  weights.close();
  rmSync(root, { recursive: true, force: true });
});

describe('an adapter trained elsewhere', () => {
  it("reads the studio's own PEFT adapter back to the same names, shapes and values, and merges it to the very bytes of the studio's merge", () => {
    const state = trainedState();
    const peft = new PeftExport({ config, weights }, { ...expected, lora });
    peft.writeAdapter(join(root, 'adapter'), state, model);
    peft.writeMerged(join(root, 'studio-merge'), model, state);

    const adapter = readModelAdapter(join(root, 'adapter'), config);
    expect(adapter.baseModel).toBe(model);
    expect(adapterMismatches(adapter, config, expected)).toEqual([]);
    const params = adapterParams(adapter, config).params;
    expect(Object.keys(params).sort()).toEqual(Object.keys(state.params).sort());
    for (const [name, t] of Object.entries(state.params)) {
      expect(params[name].dims, name).toEqual(t.dims);
      expect(params[name].data, name).toEqual(t.data);
    }

    peft.writeMerged(join(root, 'imported-merge'), model, adapterParams(adapter, config));
    const studio = openCheckpoint(join(root, 'studio-merge'));
    const imported = openCheckpoint(join(root, 'imported-merge'));
    const source = openCheckpoint(model);
    try {
      expect(imported.names().sort()).toEqual(studio.names().sort());
      let changed = 0;
      for (const name of studio.names()) {
        expect(imported.info(name), name).toEqual(studio.info(name));
        expect(Buffer.from(imported.readBytes(name)).equals(Buffer.from(studio.readBytes(name))), name).toBe(true);
        if (!Buffer.from(source.readBytes(name)).equals(Buffer.from(studio.readBytes(name)))) changed++;
      }
      // Every adapted layer, the projector's weights and biases, the embeddings and the head changed; the rest is the source's.
      expect(changed).toBe(Object.keys(state.params).filter((n) => !n.endsWith('.lora_B')).length);
    } finally {
      [studio, imported, source].forEach((c) => c.close());
    }
  });

  it("reads an adapter saved from transformers 5's LLaVA-OneVision layout (model.language_model..., model.multi_modal_projector...) as the same adapter", () => {
    const state = trainedState();
    new PeftExport({ config, weights }, { ...expected, lora }).writeAdapter(join(root, 'adapter-v4'), state, model);
    const v5 = renamed(join(root, 'adapter-v4'), (n) => n.replace('base_model.model.language_model.model.', 'base_model.model.model.language_model.').replace('base_model.model.multi_modal_projector.', 'base_model.model.model.multi_modal_projector.'));
    expect(SafetensorsFile.open(join(v5, ADAPTER_WEIGHTS)).names().some((n) => n.startsWith('base_model.model.model.language_model.layers.0.'))).toBe(true);
    const [a4, a5] = [readModelAdapter(join(root, 'adapter-v4'), config), readModelAdapter(v5, config)];
    expect([...a5.factors.keys()].sort()).toEqual([...a4.factors.keys()].sort());
    expect(adapterParams(a5, config)).toEqual(adapterParams(a4, config));
    expect(adapterMismatches(a5, config, expected)).toEqual([]);
  });

  it('names every way an adapter does not fit: rank, alpha, modules missing or extra, shapes, the projector', () => {
    const state = trainedState();
    new PeftExport({ config, weights }, { lora, trainProjector: true, trainEmbeddings: false }).writeAdapter(join(root, 'fits'), state, model);
    const adapter = readModelAdapter(join(root, 'fits'), config);
    const problems = (e: Partial<AdapterExpectation['lora']>, trainProjector = true) => adapterMismatches(adapter, config, { lora: { ...lora, ...e }, trainProjector, trainEmbeddings: false });

    expect(problems({ r: 4 })).toEqual(['its rank r is 2, expected 4']);
    expect(problems({ alpha: 8 })).toEqual(['its lora_alpha is 4, expected 8']);
    const layers = config.text.numLayers;
    expect(problems({ targets: ['q_proj', 'v_proj', 'down_proj', 'k_proj'] })).toEqual([
      `it has no factors for ${layers} of the ${4 * layers} decoder layers the targets ["q_proj","v_proj","down_proj","k_proj"] select: ${Array.from({ length: Math.min(3, layers) }, (_, i) => `language_model.model.layers.${i}.self_attn.k_proj`).join(', ')}${layers > 3 ? ` and ${layers - 3} more` : ''}`,
    ]);
    expect(problems({ targets: ['q_proj', 'v_proj'] })[0]).toMatch(/^it adapts \d+ decoder layer\(s\) the targets \["q_proj","v_proj"\] do not select: language_model\.model\.layers\.\d+\.mlp\.down_proj/);
    expect(problems({}, false)).toEqual(['it holds whole tensors the run\'s settings do not train (modules_to_save: multi_modal_projector.linear_1.bias, multi_modal_projector.linear_1.weight, multi_modal_projector.linear_2.bias and 1 more; train.trainProjector false, train.trainEmbeddings false)']);

    // Factors of another model's width: lora_A takes one input more than the layer has.
    const [module] = decoderLinearModules(config).filter((m) => isLoraTarget(m, ['q_proj']));
    const wide = { ...state, params: { ...state.params } };
    const a = loraInputNames(module).a;
    const [inF, r] = wide.params[a].dims;
    wide.params[a] = { dims: [inF + 1, r], data: values((inF + 1) * r, 99) };
    const dir = join(root, 'wide');
    const factors = new Map(Object.keys(wide.params).filter((n) => n.endsWith('.lora_A')).map((n) => {
      const m = n.slice('model.'.length, -'.lora_A'.length);
      return [m, { a: wide.params[n], b: wide.params[`${n.slice(0, -'A'.length)}B`] }];
    }));
    writeAdapter(dir, { config: lora, factors, baseModel: model, taskType: 'CAUSAL_LM' }, 'language_model.model.');
    const h = config.text.hiddenSize;
    expect(adapterMismatches(readModelAdapter(dir, config), config, { lora, trainProjector: false, trainEmbeddings: false })).toEqual([
      `language_model.${module}: lora_A is [2, ${inF + 1}] and lora_B [${h}, 2], which do not fit the model's weight [${h}, ${inF}] (lora_A must be [r, ${inF}], lora_B [${h}, r])`,
    ]);
    // And a projector the run trains but the adapter lacks.
    expect(adapterMismatches(readModelAdapter(dir, config), config, { lora, trainProjector: true, trainEmbeddings: false }).at(-1)).toMatch(/^modules_to_save multi_modal_projector were to be trained whole, but the adapter lacks multi_modal_projector\.linear_1\.weight/);
  });
});
