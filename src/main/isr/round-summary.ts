// A round's figures as reports (`isr-studio run`, experiment studies) and the History screen show
// them: what it trained on, how its policy did on the held-out prompts, how the judge fared, and
// which of its steps were done outside the studio.
import type { RoundSummary } from '../../shared/types';
import type { Db } from '../store/db';
import { outsideWorkOf } from '../store/outside-work';
import { reviewedPairs, trainedSide, verdictInForce } from '../store/review';
import { evaluationsOf, meanVisualShare, pairsOf, trainStepCount, type RoundRecord } from '../store/rounds';
import { agreementOf } from './agreement';
import { accuracy, runScorer } from './scorer';
import type { RunSettings } from './settings';

export function summarise(db: Db, round: RoundRecord, settings: RunSettings): RoundSummary {
  const pairs = pairsOf(db, round.id);
  const evals = evaluationsOf(db, round.id);
  const mean = (of: (e: (typeof evals)[number]) => number) => (evals.length === 0 ? null : evals.reduce((s, e) => s + of(e), 0) / evals.length);
  return {
    round: round.round,
    pairs: pairs.filter((p) => trainedSide(p) !== null).length,
    ties: pairs.filter((p) => verdictInForce(p) === 'tie').length,
    dropped: pairs.filter((p) => verdictInForce(p) === 'both-bad').length,
    steps: trainStepCount(db, round.id),
    accuracy: accuracy(runScorer(settings).scale, evals.map((e) => e.score)),
    meanTokens: mean((e) => e.tokenCount),
    meanWords: mean((e) => e.wordCount),
    agreement: agreementOf(reviewedPairs(db, round.runId, round.round)),
    visualShare: meanVisualShare(db, round.id),
    outside: outsideWorkOf(db, round.id).map(({ step, source, importedAt }) => ({ step, source, importedAt })),
  };
}
