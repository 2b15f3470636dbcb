// A run's result as PEFT writes it (adapter_model.safetensors + adapter_config.json, the trained
// projector under modules_to_save) and as a merged model folder in the input's layout.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeCheckpoint, type TensorToWrite } from '../graph/safetensors';
import type { ModelConfig } from '../model/config';
import { textWeightNames } from '../model/decoder';
import { familyOf } from '../model/families';
import { expectedWeights, type ModelWeights } from '../model/weights';
import { loraInputNames, loraScale, mergeLora, writeAdapter, type LoraFactors } from './lora';
import { trainedInTorchLayout, wholeTensorParams } from './projector-params';
import type { TrainState } from './state';
import type { TrainableModel, TrainConfig } from './train-config';

/** The trained factors by module path relative to the decoder stack ('layers.0.self_attn.q_proj'). */
function trainedFactors(state: TrainState): Map<string, LoraFactors> {
  const out = new Map<string, LoraFactors>();
  for (const name of Object.keys(state.params)) {
    const m = /^model\.(.+)\.lora_A$/.exec(name);
    if (!m) continue;
    const names = loraInputNames(`model.${m[1]}`);
    out.set(m[1], { a: state.params[names.a], b: state.params[names.b] });
  }
  return out;
}

/** Writes a run's trained state as the files PEFT and transformers read. */
export class PeftExport {
  private readonly config: ModelConfig;
  private readonly weights: ModelWeights;

  constructor(
    model: Pick<TrainableModel, 'config' | 'weights'>,
    private readonly settings: Pick<TrainConfig, 'lora' | 'trainProjector'>,
  ) {
    this.config = model.config;
    this.weights = model.weights;
  }

  /** adapter_model.safetensors + adapter_config.json, with the base model's full module paths. */
  writeAdapter(dir: string, state: TrainState, baseModel: string): void {
    const saved = wholeTensorParams(this.config, this.settings.trainProjector);
    const modulesToSave = saved.length === 0 ? undefined : {
      modules: [familyOf(this.config).projectorModule],
      tensors: new Map(saved.map((name) => [name, { dims: expectedWeights(this.config).get(name)!, data: trainedInTorchLayout(state, name) }])),
    };
    writeAdapter(dir, { config: this.settings.lora, factors: trainedFactors(state), baseModel, taskType: 'CAUSAL_LM', ...(modulesToSave ? { modulesToSave } : {}) }, textWeightNames(this.config).prefix);
  }

  /**
   * A model folder in the input's layout with the adapter merged into its weights: the source's
   * config, tokenizer and processor files copied, every weight rewritten (as F32) under its
   * published name. The studio loads it as the next round's policy; transformers loads it too.
   */
  writeMerged(dir: string, sourceDir: string, state: TrainState): void {
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(sourceDir)) {
      if (file.endsWith('.json') && file !== 'model.safetensors.index.json') copyFileSync(join(sourceDir, file), join(dir, file));
      else if (file.endsWith('.jinja') || file === 'tokenizer.model') copyFileSync(join(sourceDir, file), join(dir, file));
    }
    const { prefix } = textWeightNames(this.config);
    const scale = loraScale(this.settings.lora);
    const merged = new Map<string, LoraFactors>([...trainedFactors(state)].map(([module, f]) => [`${prefix}${module}.weight`, f]));
    const tensors: Record<string, TensorToWrite> = {};
    for (const [name, shape] of expectedWeights(this.config)) {
      const f = merged.get(name);
      const w = name in state.params ? trainedInTorchLayout(state, name) : this.weights.get(name);
      tensors[name] = { dtype: 'F32', shape, data: f ? mergeLora(w, f.a, f.b, scale) : w };
    }
    writeCheckpoint(dir, tensors, { metadata: { format: 'pt' } });
  }
}
