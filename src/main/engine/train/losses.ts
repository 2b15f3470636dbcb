// The DPO family of preference losses and the SFT term, under TRL's names and with TRL's numerics
// (trl/trainer/dpo_trainer.py, DPOTrainer.dpo_loss and get_batch_metrics):
//   logits = (log pi(y_w) - log pi(y_l)) - (log ref(y_w) - log ref(y_l))
//   sigmoid: -(1 - eps) logsigmoid(beta logits) - eps logsigmoid(-beta logits)   (cDPO label smoothing)
//   robust:  (-(1 - eps) logsigmoid(beta logits) + eps logsigmoid(-beta logits)) / (1 - 2 eps)
//   hinge:   relu(1 - beta logits)
//   ipo:     (logits - 1 / (2 beta))^2, on length-averaged log-probs (TRL divides every log-prob by
//            the response length when loss_type is 'ipo', reference included, and so do its metrics)
// Two additions TRL does not have. The SFT term gamma * NLL(y_w) (TRL's rpo_alpha, the paper's
// optional term) is added to the batch-mean loss. The length penalty alpha (|y_w| - |y_l|) of R-DPO
// (Park et al. 2024, "Disentangling Length from Quality in Direct Preference Optimization") is
// subtracted inside the sigmoid: beta logits becomes beta logits - alpha (|y_w| - |y_l|); the other
// variants see the same shifted margin (logits - alpha/beta (|y_w| - |y_l|)).
// The reference log-probs are graph inputs: computed once per round and stored, never re-run here.
import type { DpoLossType } from '../../../shared/run-settings';
import type { GraphBuilder } from '../graph/builder';
import type { Value } from '../graph/ir';
import { logSigmoid } from '../graph/nn';
import type { SequenceLogps } from './logprobs';


/** The per-step metrics TRL logs for DPO, in its order and under its names (batch means). */
export const trlMetrics = ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected'] as const;
export type TrlMetric = (typeof trlMetrics)[number];

export interface PreferenceLogps {
  /** [batch] summed response log-probs of the policy and of the frozen reference. */
  policyChosen: Value;
  policyRejected: Value;
  refChosen: Value;
  refRejected: Value;
  /** [batch] response lengths in tokens: needed by 'ipo' and by a length penalty. */
  chosenLength?: Value;
  rejectedLength?: Value;
  /** Scalar NLL of the chosen responses (see sftLoss): needed when sftWeight is set. */
  chosenNll?: Value;
}

export interface DpoConfig {
  loss: DpoLossType;
  beta: number;
  /** cDPO / robust DPO label noise eps in [0, 0.5); sigmoid and robust only. */
  labelSmoothing?: number;
  /** gamma: adds gamma * NLL(y_w) to the loss. */
  sftWeight?: number;
  /** alpha: R-DPO's alpha * (|y_w| - |y_l|) subtracted inside the sigmoid. */
  lengthPenalty?: number;
}

/** Token-mean negative log-likelihood over all response tokens of the batch (TRL's nll_loss). */
export function sftLoss(b: GraphBuilder, logps: Pick<SequenceLogps, 'sum' | 'count'>): Value {
  return b.scope('sft_loss', () => b.neg(b.div(b.reduceSum(logps.sum, undefined, false), b.reduceSum(logps.count, undefined, false))));
}

export function dpoLoss(b: GraphBuilder, p: PreferenceLogps, cfg: DpoConfig): { loss: Value; metrics: Record<TrlMetric, Value> } {
  const { loss: kind, beta } = cfg;
  const eps = cfg.labelSmoothing ?? 0;
  const alpha = cfg.lengthPenalty ?? 0;
  const gamma = cfg.sftWeight ?? 0;
  if (!(beta > 0)) throw new Error(`dpoLoss: beta must be > 0, got ${beta}`);
  if (!(eps >= 0 && eps < 0.5)) throw new Error(`dpoLoss: labelSmoothing must be in [0, 0.5), got ${eps}`);
  if (eps > 0 && (kind === 'ipo' || kind === 'hinge')) throw new Error(`dpoLoss: labelSmoothing applies to 'sigmoid' and 'robust', not '${kind}'`);
  const needsLengths = kind === 'ipo' || alpha !== 0;
  if (needsLengths && (p.chosenLength === undefined || p.rejectedLength === undefined)) {
    throw new Error(`dpoLoss: '${kind}'${alpha !== 0 ? ' with a length penalty' : ''} needs chosenLength and rejectedLength`);
  }
  if (gamma !== 0 && p.chosenNll === undefined) throw new Error('dpoLoss: sftWeight needs chosenNll');

  return b.scope('dpo_loss', () => {
    const perToken = (v: Value, len: Value | undefined) => (kind === 'ipo' ? b.div(v, len!) : v);
    const policyChosen = perToken(p.policyChosen, p.chosenLength);
    const policyRejected = perToken(p.policyRejected, p.rejectedLength);
    const chosenRatio = b.sub(policyChosen, perToken(p.refChosen, p.chosenLength));
    const rejectedRatio = b.sub(policyRejected, perToken(p.refRejected, p.rejectedLength));
    let logits = b.sub(chosenRatio, rejectedRatio);
    if (alpha !== 0) logits = b.sub(logits, b.mul(b.sub(p.chosenLength!, p.rejectedLength!), alpha / beta));

    let losses: Value;
    switch (kind) {
      case 'sigmoid':
      case 'robust': {
        const z = b.mul(logits, beta);
        const agree = b.mul(logSigmoid(b, z), -(1 - eps));
        if (eps === 0) { losses = agree; break; }
        const flipped = b.mul(logSigmoid(b, b.neg(z)), kind === 'sigmoid' ? -eps : eps);
        losses = b.add(agree, flipped);
        if (kind === 'robust') losses = b.mul(losses, 1 / (1 - 2 * eps));
        break;
      }
      case 'hinge': {
        const margin = b.sub(1, b.mul(logits, beta));
        losses = b.where(b.greater(margin, 0), margin, 0);
        break;
      }
      case 'ipo': {
        const d = b.sub(logits, 1 / (2 * beta));
        losses = b.mul(d, d);
        break;
      }
    }
    let loss = b.reduceMean(losses, undefined, false);
    if (gamma !== 0) loss = b.add(loss, b.mul(p.chosenNll!, gamma));

    const mean = (v: Value) => b.reduceMean(v, undefined, false);
    const chosenRewards = b.mul(chosenRatio, beta);
    const rejectedRewards = b.mul(rejectedRatio, beta);
    const metrics: Record<TrlMetric, Value> = {
      'rewards/chosen': mean(chosenRewards),
      'rewards/rejected': mean(rejectedRewards),
      'rewards/accuracies': mean(b.cast(b.greater(chosenRewards, rejectedRewards), chosenRewards.dtype)),
      'rewards/margins': mean(b.sub(chosenRewards, rejectedRewards)),
      'logps/chosen': mean(policyChosen),
      'logps/rejected': mean(policyRejected),
    };
    return { loss, metrics };
  });
}
