// Phase 5: DPO on the round's preferences (people's verdict in force, else the judge's; ties and
// both-bad pairs not trained on), with the round's starting policy as reference, through the one
// training pipeline. Which pairs it trains on, each way round, is recorded when training starts
// (trained_pairs) and read back by a resumed round, so later verdicts never change a round mid-way. Each response's
// reference log-prob is kept in the store (responses.ref_logp) batch by batch as the reference pass
// makes them, so a resumed round computes only those it lacks; the context is not part of the training input:
// it only informed the judge (METHOD.md step 4).
import { join } from 'node:path';
import { modelFingerprint } from '../../engine/model/model-fingerprint';
import { ApiError } from '../../../shared/errors';
import { defaultTrainConfig, type TrainConfig, type TrainExample } from '../../engine/train/train-config';
import { fitExample } from '../../engine/train/truncation';
import type { Db } from '../../store/db';
import { saveTrainedPairs, trainedPairsOf, trainedSide, type TrainedPair } from '../../store/review';
import { pairsOf, registerModel, responsesOf, saveTrainStep, setRefLogps, setRoundOutput, setRoundPhase } from '../../store/rounds';
import type { RunSettings } from '../settings';
import { answerTurn } from '../templates';
import { trainingExample } from '../training-example';
import { runTraining, type ReferenceCache } from '../training-pipeline';
import type { PolicyScope } from './round-scope';

/** The trainer's settings for a run's settings. */
export function roundTrainConfig(s: RunSettings): TrainConfig {
  const t = s.train;
  return {
    ...defaultTrainConfig, loss: t.loss, beta: t.beta, lr: t.lr, epochs: t.epochs, batchSize: t.batchSize, sftWeight: t.sftWeight, lengthPenalty: t.lengthPenalty,
    trainProjector: t.trainProjector, trainEmbeddings: t.trainEmbeddings, seed: s.seed, lora: { r: t.loraR, alpha: t.loraAlpha, dropout: 0, targets: t.loraTargets }, maxLength: t.maxLength,
  };
}

/** Where a round's training state, adapter and merged model go. */
export const roundDir = (runsDir: string, runId: number, round: number) => join(runsDir, `run-${runId}`, `round-${round}`);

export async function trainRound(s: PolicyScope): Promise<void> {
  const { db, round, vlm } = s;
  setRoundPhase(db, round.id, 'training');
  if (round.outputModelId !== null) return;
  const dir = roundDir(s.env.runsDir, s.run.id, round.round);
  const { examples, responses } = await preferenceExamples(s);
  let output = round.policyModelId;
  if (examples.length > 0) {
    await runTraining({
      model: vlm, from: s.policyPath, examples, settings: roundTrainConfig(s.settings), stateDir: join(dir, 'state'),
      reference: storedReference(s, responses), adapterDir: join(dir, 'adapter'), mergedDir: join(dir, 'model'), signal: s.env.signal,
      onReference: (done, total) => s.progress('reference log-probs', done, total),
      onStep: (m, total) => {
        saveTrainStep(db, round.id, m.step, m.epoch, m);
        s.progress('training', m.step, total, `loss ${m.loss.toFixed(4)}, rewards/accuracies ${m['rewards/accuracies'].toFixed(2)}, rewards/margins ${m['rewards/margins'].toFixed(4)}`);
      },
    });
    output = registerModel(db, { path: join(dir, 'model'), family: vlm.config.arch, fingerprint: await modelFingerprint(join(dir, 'model')), parentId: round.policyModelId });
  }
  setRoundOutput(db, round.id, output);
  round.outputModelId = output;
}

/** The round's training pairs: as recorded when its training started, or decided now and recorded.
 *  Training outside the studio starts when the round stops for it (isr/run.ts), so the pairs a job
 *  exports are the ones recorded here. */
export function fixTrainingPairs(db: Db, roundId: number): TrainedPair[] {
  const recorded = trainedPairsOf(db, roundId);
  if (recorded.length > 0) return recorded;
  const decided = pairsOf(db, roundId).flatMap((pair): TrainedPair[] => {
    const side = trainedSide(pair);
    if (side === null) return [];
    const [chosen, rejected] = side === 'a' ? [pair.responseAId, pair.responseBId] : [pair.responseBId, pair.responseAId];
    return [{ pairId: pair.id, chosenResponseId: chosen, rejectedResponseId: rejected }];
  });
  saveTrainedPairs(db, roundId, decided);
  return decided;
}

/** The examples, and for each the ids of its chosen and rejected responses. */
async function preferenceExamples(s: PolicyScope): Promise<{ examples: TrainExample[]; responses: { chosen: number; rejected: number }[] }> {
  const texts = new Map(responsesOf(s.db, s.round.id).map((r) => [r.id, r.text]));
  const prompts = new Map(s.prompts.map((p) => [p.id, p]));
  const promptOf = new Map(pairsOf(s.db, s.round.id).map((p) => [p.id, p.promptId]));
  const video = { features: s.features, frames: s.settings.frames, tower: s.settings.train.trainProjector };
  const examples: TrainExample[] = [];
  const responses: { chosen: number; rejected: number }[] = [];
  for (const t of fixTrainingPairs(s.db, s.round.id)) {
    const p = prompts.get(promptOf.get(t.pairId)!)!;
    const example = await trainingExample(s.vlm, { messages: answerTurn(s.templates, p.question), chosen: texts.get(t.chosenResponseId)!, rejected: texts.get(t.rejectedResponseId)!, video: p.video.path }, video);
    // Run creation checks that the video and the longest response fit; a long question can still overflow.
    const fitted = fitExample(example, roundTrainConfig(s.settings), s.vlm.config.text.maxPositionEmbeddings);
    if ('refused' in fitted) throw new ApiError('bad_input', `pair ${t.pairId} (prompt ${p.rowId} of the dataset): ${fitted.refused}`);
    examples.push(fitted.example);
    responses.push({ chosen: t.chosenResponseId, rejected: t.rejectedResponseId });
  }
  return { examples, responses };
}

/** The round's reference log-probs, kept per response in the store. */
function storedReference(s: PolicyScope, responses: readonly { chosen: number; rejected: number }[]): ReferenceCache {
  const stored = new Map(responsesOf(s.db, s.round.id).map((r) => [r.id, r.refLogp]));
  return {
    kept: (i) => ({ chosen: stored.get(responses[i].chosen) ?? null, rejected: stored.get(responses[i].rejected) ?? null }),
    keep: (computed) => setRefLogps(s.db, computed.flatMap((c) => [
      { responseId: responses[c.example].chosen, logp: c.chosen },
      { responseId: responses[c.example].rejected, logp: c.rejected },
    ])),
  };
}
