// Learning-rate schedules with linear warmup, exactly as transformers' optimization.py defines them
// (get_linear_schedule_with_warmup, get_cosine_schedule_with_warmup with num_cycles 0.5,
// get_constant_schedule_with_warmup) and as the Trainer drives them: a LambdaLR evaluated at the
// number of optimizer steps already taken, so the first update (step 0) uses lambda(0), which is 0
// whenever there is any warmup.

export interface Schedule {
  kind: 'cosine' | 'linear' | 'constant';
  /** Peak learning rate (the optimizer's lr). */
  lr: number;
  warmupSteps: number;
  totalSteps: number;
}

/** TrainingArguments.get_warmup_steps: ceil(warmup_ratio * total steps). */
export const warmupSteps = (ratio: number, totalSteps: number): number => Math.ceil(ratio * totalSteps);

/** The multiplier lambda(step) of the peak learning rate after `step` optimizer steps. */
export function lrFactor(s: Schedule, step: number): number {
  if (!(Number.isInteger(step) && step >= 0)) throw new Error(`schedule: step must be a whole number >= 0, got ${step}`);
  if (step < s.warmupSteps) return step / Math.max(1, s.warmupSteps);
  if (s.kind === 'constant') return 1;
  const decaySteps = Math.max(1, s.totalSteps - s.warmupSteps);
  if (s.kind === 'linear') return Math.max(0, (s.totalSteps - step) / decaySteps);
  const progress = (step - s.warmupSteps) / decaySteps;
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** The learning rate the update numbered `step` (0-based) uses. */
export const lrAt = (s: Schedule, step: number): number => s.lr * lrFactor(s, step);
