// Phase 2: the visual context c_t of each video, when the mode shows the judge one (modes.ts):
// refined from this run's c_{t-1} (isr), or written afresh every round (no-retrospect).
import { userTurn } from '../../engine/model/tokenizer';
import { contextsOf, roundsOf, saveContext, setRoundPhase, type ContextRecord } from '../../store/rounds';
import { judgeViews } from '../modes';
import { fill } from '../templates';
import { visual, type PolicyScope } from './round-scope';

/** The round's contexts by video (none when the mode shows the judge no context). */
export async function writeContexts(s: PolicyScope): Promise<Map<number, ContextRecord>> {
  const { db, round, run, templates } = s;
  setRoundPhase(db, round.id, 'contexts');
  const contexts = new Map(contextsOf(db, round.id).map((c) => [c.videoId, c]));
  const view = judgeViews[run.mode];
  if (view.context === 'none') return contexts;
  const previous = view.context === 'refined' ? previousContexts(s) : new Map<number, ContextRecord>();
  const videos = [...new Map(s.prompts.map((p) => [p.video.id, p])).values()];
  for (const [i, p] of videos.entries()) {
    s.step('contexts', i, videos.length);
    if (contexts.has(p.video.id)) continue;
    const before = previous.get(p.video.id);
    const text = before ? fill(templates.retrospect, { previous: before.text }, 'retrospect') : templates.describe;
    const prompt = s.vlm.prompt(userTurn(text, true), await s.features.shown(p.video.path, s.settings.frames));
    const [g] = await s.vlm.generate([{ prompt, features: await visual(s, p) }], { maxNewTokens: s.settings.contextTokens });
    const context = { videoId: p.video.id, text: g.text, refinedId: before?.id ?? null };
    contexts.set(p.video.id, { id: saveContext(db, round.id, context), ...context });
  }
  return contexts;
}

/** This run's contexts of the round before, by video: what a refining mode refines. */
function previousContexts(s: PolicyScope): Map<number, ContextRecord> {
  const before = roundsOf(s.db, s.run.id).find((r) => r.round === s.round.round - 1);
  return new Map(before ? contextsOf(s.db, before.id).map((c) => [c.videoId, c]) : []);
}
