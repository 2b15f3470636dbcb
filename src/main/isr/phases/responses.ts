// Phase 1: K samples per prompt from the round's policy, each drawn with its own seed
// (seeds.ts); a sample identical to one before it is drawn again with the next attempt's seed.
import { saveResponse, setRoundPhase } from '../../store/rounds';
import { responseSeed } from '../seeds';
import { answerTurn } from '../templates';
import { responsesByPrompt, visual, type PolicyScope } from './round-scope';

/** Re-draws allowed after the first; the last draw is kept even when it repeats one before. */
const redraws = 3;

export async function sampleResponses(s: PolicyScope): Promise<void> {
  const { db, round, settings, vlm } = s;
  setRoundPhase(db, round.id, 'responses');
  const stored = responsesByPrompt(db, round.id);
  for (const [i, p] of s.prompts.entries()) {
    s.step('responses', i, s.prompts.length);
    const have = stored.get(p.id) ?? [];
    const samples = new Set(have.map((r) => r.sample));
    const missing = Array.from({ length: settings.samples }, (_, k) => k).filter((k) => !samples.has(k));
    if (missing.length === 0) continue;
    const sampling = { maxNewTokens: settings.maxNewTokens, temperature: settings.temperature, topP: settings.topP };
    const input = { prompt: vlm.prompt(answerTurn(s.templates, p.question), await s.features.shown(p.video.path, settings.frames)), features: await visual(s, p) };
    const texts = new Set(have.map((r) => r.text));
    const seedOf = (sample: number, attempt: number) => responseSeed({ runSeed: settings.seed, round: round.round, promptId: p.id, sample, attempt });
    const draw = (sample: number, attempt: number) => vlm.generate([input], { ...sampling, seed: seedOf(sample, attempt) }).then(([g]) => g);
    // The first draws of a prompt's missing samples together: one prefill, their steps batched. Each
    // draws what it would alone (its own seed), so the order of the checks below is what decides.
    const first = await vlm.generate([input], { ...sampling, samples: missing.length, batchSize: missing.length, rowSeed: (_, j) => seedOf(missing[j], 0) });
    for (const [j, k] of missing.entries()) {
      let g = first[j];
      let attempt = 0;
      while (texts.has(g.text) && attempt < redraws) g = await draw(k, ++attempt);
      texts.add(g.text);
      saveResponse(db, round.id, { promptId: p.id, sample: k, text: g.text, tokenCount: g.tokenIds.length, seed: seedOf(k, attempt) });
    }
  }
}
