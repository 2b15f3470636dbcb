// A run's settings, validated before anything starts: every field named in the message when it is
// wrong. Defaults are METHOD.md's (our defaults marked there) and TRL's DPO defaults.
import { z } from 'zod';
import { ApiError } from '../../shared/errors';
import { dpoLossTypes } from '../engine/train/losses';


const int = (min: number, max: number) => z.number().int().min(min).max(max);

export const runSettingsSchema = z
  .object({
    /** K samples per prompt; pairs are (0, 1), (2, 3), ... */
    samples: int(2, 16).refine((k) => k % 2 === 0, 'must be even: samples are judged in pairs').default(2),
    temperature: z.number().gt(0).max(5).default(0.7),
    topP: z.number().gt(0).max(1).default(0.9),
    maxNewTokens: int(1, 1024).default(48),
    /** Longest visual context, in tokens. */
    contextTokens: int(1, 2048).default(96),
    frames: int(1, 64).default(8),
    /** Pairs whose preference probability lies inside [low, high] are dropped as ties. */
    tieBand: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).refine(([lo, hi]) => lo <= hi, 'low must not exceed high').default([0.45, 0.55]),
    seed: int(0, 2 ** 31 - 1).default(0),
    train: z
      .object({
        loss: z.enum(dpoLossTypes).default('sigmoid'),
        beta: z.number().gt(0).default(0.1),
        lr: z.number().gt(0).max(1).default(5e-4),
        epochs: int(1, 100).default(3),
        batchSize: int(1, 256).default(2),
        sftWeight: z.number().min(0).default(0),
        lengthPenalty: z.number().min(0).default(0),
        loraR: int(1, 512).default(16),
        loraAlpha: z.number().gt(0).default(32),
        loraTargets: z.array(z.string().min(1)).min(1).default(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']),
        trainProjector: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    evaluation: z
      .object({
        maxNewTokens: int(1, 1024).default(32),
        /** Normalised exact match by default; an OpenAI-compatible LLM grading 1-5 when configured. */
        scorer: z
          .discriminatedUnion('kind', [
            z.object({ kind: z.literal('exact') }).strict(),
            z.object({ kind: z.literal('openai'), url: z.string().url(), model: z.string().min(1), apiKeyEnv: z.string().default('OPENAI_API_KEY') }).strict(),
          ])
          .default({ kind: 'exact' }),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type RunSettings = z.infer<typeof runSettingsSchema>;

/** Parses settings (a config file's JSON, or {}), naming every bad field. */
export function parseRunSettings(input: unknown, source = 'settings'): RunSettings {
  const parsed = runSettingsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`);
    throw new ApiError('invalid_argument', `${source}: ${lines.join('; ')}`, { issues: lines });
  }
  return parsed.data;
}
