// Phase 2: the visual context c_t of each video, when the mode shows the judge one (modes.ts):
// refined from this run's c_{t-1} (isr), or written afresh every round (no-retrospect).
import { maxBatchRows } from '../../engine/generate/generate';
import { userTurn } from '../../engine/model/tokenizer';
import { contextsOf, roundsOf, saveContext, setRoundPhase, type ContextRecord } from '../../store/rounds';
import { judgeViews } from '../modes';
import { fill } from '../templates';
import type { PolicyScope } from './round-scope';

/** The round's contexts by video (none when the mode shows the judge no context). */
export async function writeContexts(s: PolicyScope): Promise<Map<number, ContextRecord>> {
  const { db, round, run, templates } = s;
  setRoundPhase(db, round.id, 'contexts');
  const contexts = new Map(contextsOf(db, round.id).map((c) => [c.videoId, c]));
  const view = judgeViews[run.mode];
  if (view.context === 'none') return contexts;
  const previous = view.context === 'refined' ? previousContexts(s) : new Map<number, ContextRecord>();
  const videos = [...new Map(s.prompts.map((p) => [p.video.id, p])).values()];
  const missing = videos.filter((p) => !contexts.has(p.video.id));
  // Several videos' descriptions decoded together (as many as fit: generate's batchRowsFor); each
  // batch is stored before the next is started.
  for (let start = 0; start < missing.length; start += maxBatchRows) {
    s.step('contexts', videos.length - missing.length + start, videos.length);
    const batch = missing.slice(start, start + maxBatchRows);
    const inputs = [];
    for (const p of batch) {
      const before = previous.get(p.video.id);
      const text = before ? fill(templates.retrospect, { previous: before.text }, 'retrospect') : templates.describe;
      inputs.push(await s.features.input(userTurn(text, true), p.video.path, s.settings.frames));
    }
    const written = await s.vlm.generate(inputs, { maxNewTokens: s.settings.contextTokens });
    for (const [k, p] of batch.entries()) {
      const context = { videoId: p.video.id, text: written[k].text, refinedId: previous.get(p.video.id)?.id ?? null };
      contexts.set(p.video.id, { id: saveContext(db, round.id, context), ...context });
    }
  }
  return contexts;
}

/** This run's contexts of the round before, by video: what a refining mode refines. */
function previousContexts(s: PolicyScope): Map<number, ContextRecord> {
  const before = roundsOf(s.db, s.run.id).find((r) => r.round === s.round.round - 1);
  return new Map(before ? contextsOf(s.db, before.id).map((c) => [c.videoId, c]) : []);
}
