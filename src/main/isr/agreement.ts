// The self-judge against people (issue 22): percent agreement and Cohen's kappa over the labels
// a, b, tie and both-bad, the confusion matrix, and agreement by how sure the judge was.
import { personVerdicts, type Agreement, type PairChoice, type PersonVerdict } from '../../shared/types';

const judgeChoices: readonly PairChoice[] = ['a', 'b', 'tie'];

/** Bins of the judge's confidence |p(A) - 0.5|. */
const confidenceEdges = [0, 0.1, 0.2, 0.3, 0.4, 0.5];

export interface ReviewedPair {
  judgeChoice: PairChoice;
  pA: number;
  person: PersonVerdict;
}

/**
 * Agreement over the pairs people gave a verdict (null when there are none). Kappa is
 * (po - pe) / (1 - pe) with po the share agreed and pe the agreement two raters with these
 * label frequencies would reach by chance (Cohen, 1960); null when pe is 1.
 */
export function agreementOf(pairs: readonly ReviewedPair[]): Agreement | null {
  const n = pairs.length;
  if (n === 0) return null;
  const confusion = Object.fromEntries(judgeChoices.map((j) => [j, Object.fromEntries(personVerdicts.map((p) => [p, 0]))])) as Agreement['confusion'];
  for (const p of pairs) confusion[p.judgeChoice][p.person]++;
  const agreed = pairs.filter((p) => p.judgeChoice === p.person).length;
  const po = agreed / n;
  const judgeShare = (label: string) => pairs.filter((p) => p.judgeChoice === label).length / n;
  const personShare = (label: string) => pairs.filter((p) => p.person === label).length / n;
  const pe = personVerdicts.reduce((sum, label) => sum + judgeShare(label) * personShare(label), 0);
  const byConfidence = confidenceEdges.slice(0, -1).map((from, i) => {
    const to = confidenceEdges[i + 1];
    const last = i === confidenceEdges.length - 2;
    const inBin = pairs.filter((p) => {
      // Rounded to 1e-9 so that p(A) 0.7 lands at 0.2, not at 0.19999999999999996.
      const c = Math.round(Math.abs(p.pA - 0.5) * 1e9) / 1e9;
      return c >= from && (c < to || (last && c <= to));
    });
    return { from, to, n: inBin.length, agreed: inBin.filter((p) => p.judgeChoice === p.person).length };
  });
  return { n, agreed, percent: po, kappa: pe === 1 ? null : (po - pe) / (1 - pe), confusion, byConfidence };
}
