// A run's settings, declared once: the schema the API and the run validate with, and for each field
// what a form shows (label, help, bounds, step) and the name of the same setting in the Python
// ecosystem (TRL's DPOConfig, PEFT's LoraConfig, transformers' GenerationConfig). Defaults are
// METHOD.md's (ours marked in docs/method.md) and TRL's DPO defaults; the JSON keys stay camelCase,
// docs/method.md maps each to its TRL/PEFT name.
import { z } from 'zod';

/** TRL's `loss_type` values that the engine implements (engine/train/losses.ts). */
export const dpoLossTypes = ['sigmoid', 'ipo', 'hinge', 'robust'] as const;
export type DpoLossType = (typeof dpoLossTypes)[number];

/** The most frames a run samples from a video. */
export const maxFrames = 64;

/** Whether a round waits for people's verdicts between making its pairs and training on them. */
export const reviewModes = ['none', 'before-training'] as const;
export type ReviewMode = (typeof reviewModes)[number];

/** How a form edits a field. Bounds are inclusive; an exclusive lower bound is left to validation. */
export type SettingControl =
  | { kind: 'number'; integer: boolean; min?: number; max?: number; step: number | 'any' }
  | { kind: 'choice'; values: readonly string[] }
  /** A [low, high] pair within [min, max]. */
  | { kind: 'range'; min: number; max: number; step: number }
  /** A list of names, edited as comma-separated text. */
  | { kind: 'list' }
  | { kind: 'toggle' };

export interface SettingMeta {
  label: string;
  help: string;
  /** The same setting upstream, as `Class.field` (DPOConfig.beta, LoraConfig.r); absent when ISR's own. */
  upstream?: string;
  control: SettingControl;
}

export interface SettingField extends SettingMeta {
  /** The field's keys from the settings' root (['train', 'beta']), and joined ('train.beta'). */
  path: readonly string[];
  key: string;
  default: unknown;
}

export interface SettingGroup {
  label: string;
  fields: SettingField[];
}

const fieldMeta = z.registry<SettingMeta>();
const groupLabels = z.registry<{ label: string }>();

type Described = Omit<SettingMeta, 'control'>;
interface NumberSpec extends Described {
  integer?: boolean;
  min?: number;
  /** Exclusive lower bound. */
  above?: number;
  max?: number;
  /** Defaults to 1 for integers, 'any' otherwise. */
  step?: number;
}

function numberSetting(spec: NumberSpec, value: number, rule?: { holds: (n: number) => boolean; message: string }) {
  const { integer = false, min, above, max, step, ...described } = spec;
  let schema = integer ? z.number().int() : z.number();
  if (min !== undefined) schema = schema.min(min);
  if (above !== undefined) schema = schema.gt(above);
  if (max !== undefined) schema = schema.max(max);
  if (rule) schema = schema.refine(rule.holds, rule.message);
  return schema.default(value).register(fieldMeta, { ...described, control: { kind: 'number', integer, min, max, step: step ?? (integer ? 1 : 'any') } });
}

function choiceSetting<const V extends readonly [string, ...string[]]>(described: Described, values: V, value: V[number]) {
  return z.enum(values).default(value).register(fieldMeta, { ...described, control: { kind: 'choice', values } });
}

function rangeSetting(described: Described, bounds: { min: number; max: number; step: number }, value: [number, number]) {
  const end = z.number().min(bounds.min).max(bounds.max);
  return z
    .tuple([end, end])
    .refine(([low, high]) => low <= high, 'low must not exceed high')
    .default(value)
    .register(fieldMeta, { ...described, control: { kind: 'range', ...bounds } });
}

function listSetting(described: Described, value: string[]) {
  return z.array(z.string().min(1)).min(1).default(value).register(fieldMeta, { ...described, control: { kind: 'list' } });
}

function toggleSetting(described: Described, value: boolean) {
  return z.boolean().default(value).register(fieldMeta, { ...described, control: { kind: 'toggle' } });
}

const scorerSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('exact') }).strict(),
    z.object({ kind: z.literal('openai'), url: z.string().url(), model: z.string().min(1), apiKeyEnv: z.string().default('OPENAI_API_KEY') }).strict(),
  ])
  .default({ kind: 'exact' });

export const runSettingsSchema = z
  .object({
    samples: numberSetting(
      { label: 'Samples per prompt', help: 'K responses sampled per prompt; pairs are samples (0, 1), (2, 3), ...', integer: true, min: 2, max: 16, step: 2 },
      2,
      { holds: (k) => k % 2 === 0, message: 'must be even: samples are judged in pairs' },
    ),
    temperature: numberSetting({ label: 'Temperature', help: 'Sampling temperature of the responses.', upstream: 'GenerationConfig.temperature', above: 0, max: 5, step: 0.05 }, 0.7),
    topP: numberSetting({ label: 'Top-p', help: 'Nucleus sampling: the smallest set of tokens whose probability reaches p.', upstream: 'GenerationConfig.top_p', above: 0, max: 1, step: 0.05 }, 0.9),
    maxNewTokens: numberSetting({ label: 'Response tokens', help: 'Longest sampled response, in tokens.', upstream: 'GenerationConfig.max_new_tokens', integer: true, min: 1, max: 1024 }, 48),
    contextTokens: numberSetting({ label: 'Context tokens', help: 'Longest visual context the policy writes for its judge, in tokens.', integer: true, min: 1, max: 2048 }, 96),
    frames: numberSetting({ label: 'Frames', help: 'Frames sampled from each video.', integer: true, min: 1, max: maxFrames }, 8),
    tieBand: rangeSetting(
      { label: 'Tie band', help: 'Pairs whose preference probability lies inside [low, high] are dropped as ties.' },
      { min: 0, max: 1, step: 0.01 },
      [0.45, 0.55],
    ),
    review: choiceSetting(
      { label: 'Review', help: 'before-training: each round stops once its pairs are made, for people to review them; "Train round N" then trains on their verdicts.' },
      reviewModes,
      'none',
    ),
    seed: numberSetting({ label: 'Seed', help: 'The seed every sample, shuffle and LoRA initialisation derives from.', upstream: 'DPOConfig.seed', integer: true, min: 0, max: 2 ** 31 - 1 }, 0),
    train: z
      .object({
        loss: choiceSetting({ label: 'Loss', help: "The preference loss, under TRL's name.", upstream: 'DPOConfig.loss_type' }, dpoLossTypes, 'sigmoid'),
        beta: numberSetting({ label: 'Beta', help: 'Strength of the pull towards the reference: higher keeps the policy closer.', upstream: 'DPOConfig.beta', above: 0, step: 0.01 }, 0.1),
        lr: numberSetting({ label: 'Learning rate', help: 'Peak learning rate (cosine schedule, 10% warm-up).', upstream: 'DPOConfig.learning_rate', above: 0, max: 1 }, 5e-4),
        epochs: numberSetting({ label: 'Epochs', help: "Passes over the round's pairs.", upstream: 'DPOConfig.num_train_epochs', integer: true, min: 1, max: 100 }, 3),
        batchSize: numberSetting({ label: 'Batch size', help: 'Pairs per update.', upstream: 'DPOConfig.per_device_train_batch_size', integer: true, min: 1, max: 256 }, 2),
        sftWeight: numberSetting({ label: 'SFT weight', help: 'Adds this weight times the NLL of the chosen response to the loss (0: off).', upstream: 'DPOConfig.rpo_alpha', min: 0 }, 0),
        lengthPenalty: numberSetting({ label: 'Length penalty', help: "R-DPO's alpha: penalises the chosen response's extra length (0: off).", min: 0 }, 0),
        loraR: numberSetting({ label: 'LoRA rank', help: 'Rank of the LoRA update.', upstream: 'LoraConfig.r', integer: true, min: 1, max: 512 }, 16),
        loraAlpha: numberSetting({ label: 'LoRA alpha', help: 'LoRA scale numerator: the update is scaled by alpha / rank.', upstream: 'LoraConfig.lora_alpha', above: 0 }, 32),
        loraTargets: listSetting(
          { label: 'LoRA targets', help: 'Module names adapted, comma-separated.', upstream: 'LoraConfig.target_modules' },
          ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
        ),
        maxLength: numberSetting({ label: 'Max length', help: "Longest prompt + response trained on, in tokens; longer responses lose their end. TRL's default is 1024, but a video prompt of 8 LLaVA-OneVision frames alone is about 1,600.", upstream: 'DPOConfig.max_length', integer: true, min: 16, max: 1_048_576 }, 2048),
        trainProjector: toggleSetting({ label: 'Train the projector', help: 'Also train the projector or connector as whole tensors; the vision tower stays frozen.', upstream: 'LoraConfig.modules_to_save' }, false),
        trainEmbeddings: toggleSetting({ label: 'Train embeddings and head', help: 'Also train the token embeddings and the output head as whole tensors; their gradient takes about as much memory as the logits.', upstream: 'LoraConfig.modules_to_save' }, false),
      })
      .strict()
      .prefault({})
      .register(groupLabels, { label: 'DPO training' }),
    evaluation: z
      .object({
        maxNewTokens: numberSetting({ label: 'Answer tokens', help: 'Longest held-out answer, in tokens.', upstream: 'GenerationConfig.max_new_tokens', integer: true, min: 1, max: 1024 }, 32),
        /** Normalised exact match by default; an OpenAI-compatible LLM grading 1-5 when configured. Set
         *  in a config file: it has no form control. */
        scorer: scorerSchema,
      })
      .strict()
      .prefault({})
      .register(groupLabels, { label: 'Evaluation' }),
    /** Steps each round hands to another machine (docs/scale.md): the round stops before the step,
     *  and resuming goes on once its result was imported. */
    outside: z
      .object({
        responses: toggleSetting({ label: 'Sample outside', help: 'Each round stops before sampling its responses, for another engine to sample them (isr-studio export --format vllm-job, then import-responses).' }, false),
        training: toggleSetting({ label: 'Train outside', help: 'Each round stops once its pairs are final, for another trainer to train on them (isr-studio export --format trl-job, then import-adapter).' }, false),
      })
      .strict()
      .prefault({})
      .register(groupLabels, { label: 'Outside the studio' }),
  })
  .strict()
  .register(groupLabels, { label: 'Sampling and judging' });

/** Settings as given (a config file, a form): any field may be left out. */
export type RunSettingsInput = z.input<typeof runSettingsSchema>;
/** Settings as a run uses them: every field present. */
export type RunSettings = z.output<typeof runSettingsSchema>;

/** Every default, for code that needs one without parsing (the engine's training defaults). */
export const runSettingsDefaults: RunSettings = runSettingsSchema.parse({});

/** The groups of fields a form shows, in declaration order: the root's fields, then each nested group. */
function groupsOf(schema: z.ZodObject, path: readonly string[], label: string): SettingGroup[] {
  const fields: SettingField[] = [];
  const nested: SettingGroup[] = [];
  for (const [key, entry] of Object.entries(schema.shape)) {
    const at = [...path, key];
    const meta = fieldMeta.get(entry);
    const inner = entry instanceof z.ZodPrefault ? entry.unwrap() : undefined;
    const groupLabel = groupLabels.get(entry)?.label;
    if (meta) fields.push({ ...meta, path: at, key: at.join('.'), default: entry.parse(undefined) });
    else if (inner instanceof z.ZodObject && groupLabel) nested.push(...groupsOf(inner, at, groupLabel));
  }
  return [{ label, fields }, ...nested];
}

export const runSettingGroups: readonly SettingGroup[] = groupsOf(runSettingsSchema, [], groupLabels.get(runSettingsSchema)!.label);
export const runSettingFields: readonly SettingField[] = runSettingGroups.flatMap((g) => g.fields);

/** The field a validation issue is about: the one whose path begins the issue's (tieBand for tieBand.1). */
export function settingFieldAt(issuePath: readonly (string | number)[]): SettingField | undefined {
  return runSettingFields.find((f) => f.path.every((key, i) => issuePath[i] === key));
}

/** Settings from values given by field key (a form's state); fields left out take their defaults. */
export function settingsFromFields(values: Readonly<Record<string, unknown>>): RunSettingsInput {
  const settings: Record<string, unknown> = {};
  for (const field of runSettingFields) {
    if (!(field.key in values)) continue;
    const parents = field.path.slice(0, -1);
    let target = settings;
    for (const key of parents) target = (target[key] ??= {}) as Record<string, unknown>;
    target[field.path.at(-1)!] = values[field.key];
  }
  return settings as RunSettingsInput;
}
