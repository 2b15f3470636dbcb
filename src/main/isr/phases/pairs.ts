// Phase 4: each pair's preference, the judge's two orders averaged; inside the tie band a tie,
// which is not trained on.
import { judgmentsOf, savePair, setRoundPhase } from '../../store/rounds';
import { bothOrders } from '../judge';
import { responsesByPrompt, samplePairs, verdictKey, type RoundScope } from './round-scope';
import type { PromptWithVideo } from '../../store/prompts';

export function decidePairs(s: RoundScope, prompts: readonly PromptWithVideo[]): void {
  const { db, round } = s;
  setRoundPhase(db, round.id, 'pairs');
  const [lo, hi] = s.settings.tieBand;
  const verdicts = new Map(judgmentsOf(db, round.id).map((j) => [verdictKey(j.responseAId, j.responseBId, j.shownFirst), j.pFirst]));
  const byPrompt = responsesByPrompt(db, round.id);
  for (const p of prompts) {
    for (const [a, b] of samplePairs(byPrompt.get(p.id) ?? [])) {
      const pA = bothOrders(verdicts.get(verdictKey(a.id, b.id, 'a'))!, verdicts.get(verdictKey(a.id, b.id, 'b'))!);
      savePair(db, round.id, { promptId: p.id, responseAId: a.id, responseBId: b.id, pA, judgeChoice: pA > hi ? 'a' : pA < lo ? 'b' : 'tie' });
    }
  }
}
