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
    if (Array.from({ length: settings.samples }, (_, k) => samples.has(k)).every(Boolean)) continue;
    const input = { prompt: vlm.prompt(answerTurn(s.templates, p.question), await s.features.shown(p.video.path, settings.frames)), features: await visual(s, p) };
    const texts = new Set(have.map((r) => r.text));
    for (let k = 0; k < settings.samples; k++) {
      if (samples.has(k)) continue;
      for (let attempt = 0; ; attempt++) {
        const seed = responseSeed({ runSeed: settings.seed, round: round.round, promptId: p.id, sample: k, attempt });
        const [g] = await vlm.generate([input], { maxNewTokens: settings.maxNewTokens, temperature: settings.temperature, topP: settings.topP, seed });
        if (!texts.has(g.text) || attempt >= redraws) {
          texts.add(g.text);
          saveResponse(db, round.id, { promptId: p.id, sample: k, text: g.text, tokenCount: g.tokenIds.length, seed });
          break;
        }
      }
    }
  }
}
