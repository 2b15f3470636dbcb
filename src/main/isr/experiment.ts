// The figures of an ablation study (issue 8): per run (one per mode, all from the same start and
// seed) and per round, what the History screen shows plus what only ground truth can tell: how often
// the judge picked the right response where exactly one of the two was right, and how often the
// response it preferred was the longer one.
import type { RunMode } from '../../shared/types';
import type { Db } from '../store/db';
import { pagePrompts, countPrompts } from '../store/prompts';
import { getRun, pairsOf, responsesOf, roundsOf } from '../store/rounds';
import { summarise } from './round-summary';
import { exactMatch } from './scorer';
import { parseRunSettings } from './settings';

export interface RoundFigures {
  round: number;
  /** Held-out accuracy and mean answer length of the round's output policy (round 0: the start). */
  accuracy: number | null;
  meanWords: number | null;
  /** Mean length in words of the responses the round's policy sampled for training (null at round 0). */
  responseWords: number | null;
  /** Pairs the round trained on, and ties left out. */
  pairs: number;
  ties: number;
  /** Pairs where exactly one response is right (normalised exact match): ground truth decides them. */
  decided: number;
  /** Of those, the judge chose the right one / called a tie. */
  judgeRight: number;
  judgeTies: number;
  /** judgeRight / (decided - judgeTies): null when the judge decided none. */
  judgeAccuracy: number | null;
  /** The judge's lean with the tie band set aside: of the decided pairs whose p(A) is not exactly 0.5,
   *  how many lean (p(A) above or below 0.5) toward the right response. Shows a signal the band hides. */
  leanRight: number;
  leaning: number;
  /** Of the pairs the judge decided whose responses differ in length, the share where it chose the longer. */
  preferLonger: number | null;
  /** Mean share of the verdict's attention on visual tokens (null for text-judge). */
  visualShare: number | null;
}

export interface ModeFigures {
  runId: number;
  mode: RunMode;
  /** The run's seed: a study runs each mode once per seed. */
  seed: number;
  rounds: RoundFigures[];
}

const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
const mean = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((s, x) => s + x, 0) / xs.length);

/** The figures of every finished round of run `runId`. */
export function runFigures(db: Db, runId: number): ModeFigures {
  const run = getRun(db, runId);
  if (!run) throw new Error(`no run ${runId}`);
  const settings = parseRunSettings(run.settings, `run ${runId} settings`);
  const answers = new Map(pagePrompts(db, run.datasetId, 0, countPrompts(db, run.datasetId)).map((p) => [p.id, p.answer]));
  const rounds = roundsOf(db, runId).filter((r) => r.phase === 'done').map((round): RoundFigures => {
    const summary = summarise(db, round, settings);
    const responses = new Map(responsesOf(db, round.id).map((r) => [r.id, r]));
    let [decided, judgeRight, judgeTies, leanRight, leaning, longer, unequal] = [0, 0, 0, 0, 0, 0, 0];
    for (const pair of pairsOf(db, round.id)) {
      const [a, b] = [responses.get(pair.responseAId)!, responses.get(pair.responseBId)!];
      const reference = answers.get(pair.promptId);
      const [aRight, bRight] = reference == null ? [false, false] : [exactMatch(a.text, reference), exactMatch(b.text, reference)];
      if (aRight !== bRight) {
        decided++;
        if (pair.judgeChoice === 'tie') judgeTies++;
        else if ((pair.judgeChoice === 'a') === aRight) judgeRight++;
        if (pair.pA !== 0.5) {
          leaning++;
          if (pair.pA > 0.5 === aRight) leanRight++;
        }
      }
      const [aWords, bWords] = [words(a.text), words(b.text)];
      if (pair.judgeChoice !== 'tie' && aWords !== bWords) {
        unequal++;
        if ((pair.judgeChoice === 'a') === aWords > bWords) longer++;
      }
    }
    return {
      round: round.round, accuracy: summary.accuracy, meanWords: summary.meanWords,
      responseWords: mean([...responses.values()].map((r) => words(r.text))),
      pairs: summary.pairs, ties: summary.ties, decided, judgeRight, judgeTies,
      judgeAccuracy: decided - judgeTies === 0 ? null : judgeRight / (decided - judgeTies),
      leanRight, leaning,
      preferLonger: unequal === 0 ? null : longer / unequal,
      visualShare: summary.visualShare,
    };
  });
  return { runId, mode: run.mode, seed: settings.seed, rounds };
}
