// `isr-studio import-adapter`: a round's training done outside the studio (a trl-job, or any PEFT
// LoRA training of the round's pairs) brought back as the round's output policy (docs/scale.md).
// The adapter is checked against the round's policy and the run's settings (base model, adapted
// modules and their shapes, rank, alpha, projector), refused naming every mismatch, then merged by
// the studio's own merge into `<db>.runs/run-N/round-K/model` beside a copy of it in `adapter/`,
// exactly where and how the studio's own training writes them; its logged steps go to train_steps.
// Resuming the run then evaluates the round and goes on with the next.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ApiError } from '../../../shared/errors';
import { readModelConfig } from '../../engine/model/config';
import { modelFingerprint } from '../../engine/model/model-fingerprint';
import { openWeights } from '../../engine/model/weights';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, type Adapter } from '../../engine/train/lora';
import { PeftExport } from '../../engine/train/peft-export';
import { adapterMismatches, adapterParams, readModelAdapter } from '../../engine/train/peft-import';
import type { Db } from '../../store/db';
import { doneOutside, recordOutsideWork } from '../../store/outside-work';
import { pairsOf, registerModel, saveTrainStep, setRoundOutput } from '../../store/rounds';
import { fixTrainingPairs, roundDir } from '../phases/training';
import { outsideRound, type OutsideRound } from './outside-round';
import { readJsonObject } from '../../engine/model/json-file';

/** What train_dpo.py writes beside the adapter: which job trained it. */
export const JOB_MARKER = 'isr_studio.json';
/** Every logged step of the job, under TRL's metric names. */
export const JOB_METRICS = 'metrics.jsonl';

export interface AdapterImport {
  runId: number;
  round: number;
  adapterDir: string;
  /** Where rounds' adapters and merged models go (`<db>.runs`). */
  runsDir: string;
  /** Accept an adapter whose base_model_name_or_path names another folder (a path on the machine
   *  that trained it); its modules and shapes are checked all the same. */
  assumeBase?: boolean;
}

/** Whether the adapter was trained from the round's policy: by the job's marker when it has one,
 *  else by its base_model_name_or_path. */
function baseMismatch(o: OutsideRound, dir: string, adapter: Adapter, assumeBase: boolean): string | null {
  const markerFile = join(dir, JOB_MARKER);
  if (existsSync(markerFile)) {
    const marker = readJsonObject(markerFile, 'job marker');
    if (marker.run !== o.run.id || marker.round !== o.round.round) return `its job (${JOB_MARKER}) trained round ${String(marker.round)} of run ${String(marker.run)}`;
    if (marker.policy_fingerprint !== o.policy.fingerprint) return `its job (${JOB_MARKER}) was made for a policy with fingerprint ${String(marker.policy_fingerprint).slice(0, 12)}..., and round ${o.round.round}'s policy ${o.policy.path} is ${o.policy.fingerprint.slice(0, 12)}...`;
    return null;
  }
  if (assumeBase) return null;
  if (adapter.baseModel === null) return `its ${ADAPTER_CONFIG} names no base model (base_model_name_or_path) and it has no ${JOB_MARKER}: --assume-base takes it as trained from round ${o.round.round}'s policy`;
  if (resolve(adapter.baseModel) !== resolve(o.policy.path)) {
    return `its base model is ${adapter.baseModel}, not round ${o.round.round}'s policy ${o.policy.path} (and it has no ${JOB_MARKER}): if that folder is a copy of the policy, --assume-base accepts it`;
  }
  return null;
}

/** The job's logged steps, those with a step number and a loss (TRL's last log is the run's summary). */
function loggedSteps(dir: string): { step: number; epoch: number; metrics: Record<string, number> }[] {
  const file = join(dir, JOB_METRICS);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').flatMap((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ApiError('bad_input', `${file} line ${i + 1} is not valid JSON`, { file });
    }
    const row = value as Record<string, unknown>;
    if (!Number.isInteger(row.step) || typeof row.loss !== 'number') return [];
    const metrics = Object.fromEntries(Object.entries(row).filter(([k, v]) => k !== 'step' && k !== 'epoch' && typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;
    return [{ step: row.step as number, epoch: typeof row.epoch === 'number' ? row.epoch : 0, metrics }];
  });
}

export async function importAdapter(db: Db, o: AdapterImport): Promise<{ model: string; modules: number; steps: number }> {
  const round = outsideRound(db, o.runId, o.round);
  const where = `round ${o.round} of run ${o.runId}`;
  if (round.round.review === 'awaiting') throw new ApiError('bad_input', `${where} awaits people's review: its pairs are not final (resume the run to release it; with outside.training it stops again for its training)`);
  if (round.round.outputModelId !== null || doneOutside(db, round.round.id, 'training')) throw new ApiError('bad_input', `${where} is already trained: its output policy is ${round.round.outputModelId === null ? 'imported' : 'set'}`);
  if (round.round.phase !== 'training' || pairsOf(db, round.round.id).length === 0) throw new ApiError('bad_input', `${where} has not reached its training (it is at its ${round.round.phase} phase): resume the run until it stops for training`);

  const dir = resolve(o.adapterDir);
  for (const file of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) if (!existsSync(join(dir, file))) throw new ApiError('bad_input', `${dir} holds no ${file}: give the folder the job wrote its PEFT adapter to (output/)`, { file: join(dir, file) });
  const config = readModelConfig(round.policy.path);
  const adapter = readModelAdapter(dir, config);
  const t = round.settings.train;
  const base = baseMismatch(round, dir, adapter, o.assumeBase ?? false);
  const problems = [
    ...(base === null ? [] : [base]),
    ...adapterMismatches(adapter, config, { lora: { r: t.loraR, alpha: t.loraAlpha, targets: t.loraTargets, useRslora: false }, trainProjector: t.trainProjector, trainEmbeddings: t.trainEmbeddings }),
  ];
  if (problems.length > 0) throw new ApiError('bad_input', `adapter ${dir} does not fit ${where} (policy ${round.policy.path}, run settings train.loraR ${t.loraR}, loraAlpha ${t.loraAlpha}, loraTargets ${JSON.stringify(t.loraTargets)}):\n  ${problems.join('\n  ')}`);
  const steps = loggedSteps(dir);

  // The studio's own merge, into the folders its own training writes.
  const out = roundDir(o.runsDir, o.runId, o.round);
  mkdirSync(join(out, 'adapter'), { recursive: true });
  for (const file of [ADAPTER_CONFIG, ADAPTER_WEIGHTS]) copyFileSync(join(dir, file), join(out, 'adapter', file));
  const weights = openWeights(round.policy.path, config);
  try {
    new PeftExport({ config, weights }, { lora: adapter.config, trainProjector: t.trainProjector, trainEmbeddings: t.trainEmbeddings }).writeMerged(join(out, 'model'), round.policy.path, adapterParams(adapter, config));
  } finally {
    weights.close();
  }
  const fingerprint = await modelFingerprint(join(out, 'model'));
  db.transaction(() => {
    fixTrainingPairs(db, round.round.id);
    for (const s of steps) saveTrainStep(db, round.round.id, s.step, s.epoch, s.metrics);
    const model = registerModel(db, { path: join(out, 'model'), family: config.arch, fingerprint, parentId: round.policy.id });
    setRoundOutput(db, round.round.id, model);
    recordOutsideWork(db, round.round.id, {
      step: 'training', source: dir,
      detail: { baseModel: adapter.baseModel, r: adapter.config.r, loraAlpha: adapter.config.alpha, modules: adapter.factors.size, projector: adapter.modulesToSave !== undefined, steps: steps.length, job: existsSync(join(dir, JOB_MARKER)) },
    });
  })();
  return { model: join(out, 'model'), modules: adapter.factors.size, steps: steps.length };
}
