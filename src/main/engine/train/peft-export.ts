// A run's result as PEFT writes it (adapter_model.safetensors + adapter_config.json, the whole
// tensors trained beside the adapters under modules_to_save) and as a merged model folder in the input's layout.
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { float32ToBF16Bits, float32ToF16Bits } from '../graph/half-float';
import { checkpointLayout, openCheckpoint, writeCheckpointStream, type Dtype } from '../graph/safetensors';
import type { ModelConfig } from '../model/config';
import { textWeightNames } from '../model/decoder';
import { familyOf } from '../model/families';
import { expectedWeights, type ModelWeights } from '../model/weights';
import { loraInputNames, loraScale, mergeLora, writeAdapter, type LoraFactors } from './lora';
import { modulesToSave, trainedInTorchLayout, wholeTensors, type WholeTensorSettings } from './whole-tensors';
import type { TrainState } from './state';
import type { TrainableModel, TrainConfig } from './train-config';

/** What a merge reads of a training state: the trained tensors, by graph input name (the factors
 *  `model.<module>.lora_A`/`_B` and whole tensors by checkpoint name, in MatMul layout). An adapter
 *  trained elsewhere is brought into this form by peft-import.ts. */
export type TrainedParams = Pick<TrainState, 'params'>;

/** The trained factors by module path relative to the decoder stack ('layers.0.self_attn.q_proj'). */
function trainedFactors(state: TrainedParams): Map<string, LoraFactors> {
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
    private readonly settings: Pick<TrainConfig, 'lora'> & WholeTensorSettings,
  ) {
    this.config = model.config;
    this.weights = model.weights;
  }

  /** adapter_model.safetensors + adapter_config.json, with the base model's full module paths. */
  writeAdapter(dir: string, state: TrainState, baseModel: string): void {
    const saved = wholeTensors(this.config, this.settings);
    const whole = saved.length === 0 ? undefined : {
      modules: modulesToSave(saved),
      tensors: new Map(saved.map((t) => [t.name, { dims: expectedWeights(this.config).get(t.name)!, data: trainedInTorchLayout(state, t) }])),
    };
    writeAdapter(dir, { config: this.settings.lora, factors: trainedFactors(state), baseModel, taskType: 'CAUSAL_LM', ...(whole ? { modulesToSave: whole } : {}) }, textWeightNames(this.config).prefix);
  }

  /**
   * A model folder in the input's layout with the adapter merged into its weights: every file of the
   * source but its weights copied (config, tokenizer, processor, chat template, ...), and the weights
   * rewritten tensor by tensor under the source's names, dtypes and shards (the same index), the
   * changed ones rounded to their dtype as torch would, the rest copied byte for byte. The studio
   * loads it as the next round's policy; transformers loads it too.
   */
  writeMerged(dir: string, sourceDir: string, state: TrainedParams): void {
    mkdirSync(dir, { recursive: true });
    for (const file of readdirSync(sourceDir)) {
      const isWeights = file.endsWith('.safetensors') || file === 'model.safetensors.index.json';
      if (!isWeights && statSync(join(sourceDir, file)).isFile()) copyFileSync(join(sourceDir, file), join(dir, file));
    }
    const family = familyOf(this.config);
    const { prefix } = textWeightNames(this.config);
    const scale = loraScale(this.settings.lora);
    const merged = new Map<string, LoraFactors>([...trainedFactors(state)].map(([module, f]) => [`${prefix}${module}.weight`, f]));
    const layout = checkpointLayout(sourceDir);
    const source = openCheckpoint(sourceDir);
    const whole = new Map(wholeTensors(this.config, this.settings).map((t) => [t.name, t]));
    const changed = (canonical: string): Float32Array | null => {
      const f = merged.get(canonical);
      const t = whole.get(canonical);
      if (t !== undefined && canonical in state.params) return trainedInTorchLayout(state, t);
      return f ? mergeLora(this.weights.get(canonical), f.a, f.b, scale) : null;
    };
    function* tensors() {
      for (const { tensors: specs } of layout.shards) {
        for (const { name, dtype } of specs) {
          const values = changed(family.canonicalWeightName(name));
          yield { name, data: values === null ? source.readBytes(name) : inDtype(values, dtype, name) };
        }
      }
    }
    try {
      writeCheckpointStream(dir, layout, tensors(), { metadata: Object.keys(source.metadata).length > 0 ? source.metadata : { format: 'pt' } });
    } finally {
      source.close();
    }
  }
}

/** float32 values stored as `dtype`, rounded to nearest even for the half-precision ones. */
function inDtype(values: Float32Array, dtype: Dtype, name: string): ArrayBufferView {
  switch (dtype) {
    case 'F32': return values;
    case 'BF16': return float32ToBF16Bits(values);
    case 'F16': return float32ToF16Bits(values);
    case 'F64': return Float64Array.from(values);
    default: throw new Error(`weight "${name}" is stored as ${dtype}, which a merged weight cannot be written as`);
  }
}
