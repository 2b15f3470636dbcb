// A PEFT LoRA adapter trained elsewhere (TRL's DPOTrainer on a cluster, docs/scale.md), read in any
// layout the model's family comes in, checked against the model it claims to adapt and the LoRA
// settings it was meant to use, and turned into the trained tensors PeftExport merges, so an
// adapter from outside becomes a merged model folder exactly as one the studio trained does.
import { textWeightNames } from '../model/decoder';
import type { ModelConfig } from '../model/config';
import { familyOf } from '../model/families';
import { expectedWeights, transpose } from '../model/weights';
import { decoderLinearModules, isLoraTarget, loraInputNames, readAdapter, type Adapter, type LoraConfig } from './lora';
import type { TrainedParams } from './peft-export';
import { modulesToSave, wholeTensors, type WholeTensorSettings } from './whole-tensors';
import type { HostTensor } from './state';

/** What the adapter was meant to be: the LoRA settings and which whole tensors were trained beside it. */
export interface AdapterExpectation extends WholeTensorSettings {
  lora: Pick<LoraConfig, 'r' | 'alpha' | 'targets' | 'useRslora'>;
}

/** An adapter folder, its module paths taken relative to the decoder stack whichever layout of the
 *  family's checkpoints it was saved from (transformers 4 or 5 names). */
export function readModelAdapter(dir: string, config: ModelConfig): Adapter {
  const family = familyOf(config);
  return readAdapter(dir, textWeightNames(config).prefix, (name) => family.canonicalWeightName(name));
}

const shape = (dims: readonly number[]) => `[${dims.join(', ')}]`;

/** At most a few names of a list, and how many more. */
function some(names: readonly string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

/**
 * Every way the adapter does not fit the model or the expected settings, one sentence each naming
 * the field, module or tensor (in PEFT's own layout: lora_A [r, in], lora_B [out, r]); empty when it
 * fits. Modules are compared as sets: the adapter must adapt exactly the decoder layers the targets
 * select, as training in the studio would have.
 */
export function adapterMismatches(adapter: Adapter, config: ModelConfig, expected: AdapterExpectation): string[] {
  const problems: string[] = [];
  const c = adapter.config;
  if (c.r !== expected.lora.r) problems.push(`its rank r is ${c.r}, expected ${expected.lora.r}`);
  if (c.alpha !== expected.lora.alpha) problems.push(`its lora_alpha is ${c.alpha}, expected ${expected.lora.alpha}`);
  if ((c.useRslora ?? false) !== (expected.lora.useRslora ?? false)) problems.push(`its use_rslora is ${c.useRslora ?? false}, expected ${expected.lora.useRslora ?? false}`);

  const { prefix } = textWeightNames(config);
  const weights = expectedWeights(config);
  // decoderLinearModules names them as PEFT does relative to the text model ('model.layers.0...'); the
  // adapter's keys are relative to the decoder stack ('layers.0...').
  const decoder = decoderLinearModules(config);
  const stack = (m: string) => m.slice('model.'.length);
  const known = new Set(decoder.map(stack));
  const wanted = new Set(decoder.filter((m) => isLoraTarget(m, expected.lora.targets)).map(stack));
  const adapted = [...adapter.factors.keys()];
  const foreign = adapted.filter((m) => !known.has(m));
  const missing = [...wanted].filter((m) => !adapter.factors.has(m));
  const extra = adapted.filter((m) => known.has(m) && !wanted.has(m));
  const targets = JSON.stringify(expected.lora.targets);
  if (foreign.length > 0) problems.push(`it adapts ${foreign.length} module(s) the model's decoder does not have: ${some(foreign.map((m) => prefix + m))}`);
  if (missing.length > 0) problems.push(`it has no factors for ${missing.length} of the ${wanted.size} decoder layers the targets ${targets} select: ${some(missing.map((m) => prefix + m))}`);
  if (extra.length > 0) problems.push(`it adapts ${extra.length} decoder layer(s) the targets ${targets} do not select: ${some(extra.map((m) => prefix + m))}`);
  for (const [module, { a, b }] of adapter.factors) {
    const weight = weights.get(`${prefix}${module}.weight`);
    if (weight === undefined) continue;
    const [outF, inF] = weight;
    const [aIn, aR] = a.dims;
    const [bR, bOut] = b.dims;
    if (aIn !== inF || bOut !== outF) {
      problems.push(`${prefix}${module}: lora_A is ${shape([aR, aIn])} and lora_B ${shape([bOut, bR])}, which do not fit the model's weight ${shape(weight)} (lora_A must be [r, ${inF}], lora_B [${outF}, r])`);
    }
  }

  const whole = wholeTensors(config, expected);
  const saved = adapter.modulesToSave?.tensors ?? new Map<string, HostTensor>();
  const absent = whole.filter((t) => !saved.has(t.name)).map((t) => t.name);
  if (absent.length > 0) problems.push(`modules_to_save ${modulesToSave(whole).join(', ')} were to be trained whole, but the adapter lacks ${some(absent)}`);
  for (const { name } of whole) {
    const t = saved.get(name);
    if (t !== undefined && shape(t.dims) !== shape(weights.get(name)!)) problems.push(`modules_to_save ${name} is ${shape(t.dims)}, the model's is ${shape(weights.get(name)!)}`);
  }
  const unexpected = [...saved.keys()].filter((name) => !whole.some((t) => t.name === name));
  if (unexpected.length > 0) problems.push(`it holds whole tensors the run's settings do not train (modules_to_save: ${some(unexpected)}; train.trainProjector ${expected.trainProjector}, train.trainEmbeddings ${expected.trainEmbeddings})`);
  return problems;
}

/** The adapter as the trained tensors PeftExport.writeMerged reads: each module's factors under
 *  their graph input names, and a trained projector in MatMul layout. Check it first (adapterMismatches). */
export function adapterParams(adapter: Adapter, config: ModelConfig): TrainedParams {
  const params: Record<string, HostTensor> = {};
  for (const [module, { a, b }] of adapter.factors) {
    const names = loraInputNames(`model.${module}`);
    params[names.a] = a;
    params[names.b] = b;
  }
  for (const { name, dims, transposed } of wholeTensors(config, { trainProjector: true, trainEmbeddings: true })) {
    const t = adapter.modulesToSave?.tensors.get(name);
    if (t === undefined) continue;
    params[name] = { dims, data: transposed ? transpose(t.data, t.dims[0], t.dims[1]) : t.data };
  }
  return { params };
}
