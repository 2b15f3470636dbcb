// Phase 3: the self-judge on each pair of samples, in both orders, seeing what the mode shows it
// (modes.ts). Each order's verdict is stored as soon as it is made.
import { concatTyped } from '../../../shared/arrays';
import { judgmentsOf, saveJudgment, setRoundPhase, type ContextRecord } from '../../store/rounds';
import { judgeBothOrders, type ShownFirst } from '../judge';
import { judgeViews } from '../modes';
import { responsesByPrompt, samplePairs, verdictKey, visual, type PolicyScope } from './round-scope';

export async function judgeSamples(s: PolicyScope, contexts: ReadonlyMap<number, ContextRecord>): Promise<void> {
  const { db, round } = s;
  setRoundPhase(db, round.id, 'judging');
  const view = judgeViews[s.run.mode];
  const judged = new Map(judgmentsOf(db, round.id).map((j) => [verdictKey(j.responseAId, j.responseBId, j.shownFirst), j.pFirst]));
  const byPrompt = responsesByPrompt(db, round.id);
  for (const [i, p] of s.prompts.entries()) {
    s.step('judging', i, s.prompts.length);
    const context = view.context === 'none' ? null : (contexts.get(p.video.id) ?? null);
    for (const [a, b] of samplePairs(byPrompt.get(p.id) ?? [])) {
      const known: Partial<Record<ShownFirst, number>> = {};
      for (const order of ['a', 'b'] as const) {
        const pFirst = judged.get(verdictKey(a.id, b.id, order));
        if (pFirst !== undefined) known[order] = pFirst;
      }
      if (known.a !== undefined && known.b !== undefined) continue;
      const input = { question: p.question, first: a.text, second: b.text, video: await s.features.shown(p.video.path, s.settings.frames), context: context?.text ?? null, features: view.video ? await visual(s, p) : null };
      await judgeBothOrders(s.vlm, s.templates, input, {
        known,
        onVerdict: (shownFirst, { pFirst, attention: att }) => saveJudgment(db, round.id, {
          responseAId: a.id, responseBId: b.id, shownFirst, contextId: context?.id ?? null, pFirst,
          attention: att ? { frames: att.maps.length, rows: att.rows, cols: att.cols, data: concatTyped(att.maps, (n) => new Float32Array(n)) } : null,
          visualShare: att?.visualShare ?? null,
        }),
      });
    }
  }
}
