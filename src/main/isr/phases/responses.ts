// Phase 1: K samples per prompt from the round's policy, each drawn with its own seed
// (seeds.ts); a sample identical to one before it is drawn again with the next attempt's seed.
// Batching changes no draw: a sample's tokens depend on its seed alone.
import { maxBatchRows } from '../../engine/generate/generate';
import { saveResponse, setRoundPhase } from '../../store/rounds';
import { responseSeed } from '../seeds';
import { answerTurn } from '../templates';
import { responsesByPrompt, type PolicyScope } from './round-scope';

/** Re-draws allowed after the first; the last draw is kept even when it repeats one before. */
const redraws = 3;

export async function sampleResponses(s: PolicyScope): Promise<void> {
  const { db, round, settings, vlm } = s;
  setRoundPhase(db, round.id, 'responses');
  const stored = responsesByPrompt(db, round.id);
  const sampling = { maxNewTokens: settings.maxNewTokens, temperature: settings.temperature, topP: settings.topP };
  const seedOf = (promptId: number, sample: number, attempt: number) => responseSeed({ runSeed: settings.seed, round: round.round, promptId, sample, attempt });
  const todo = s.prompts.filter((p) => (stored.get(p.id)?.length ?? 0) < settings.samples);
  // Whole prompts per batch, all their samples in it: each prompt is prefilled once and the rows'
  // steps are decoded together (as many rows as fit: generate's batchRowsFor). A batch is stored
  // before the next is started.
  const perBatch = Math.max(1, Math.floor(maxBatchRows / settings.samples));
  for (let start = 0; start < todo.length; start += perBatch) {
    s.step('responses', s.prompts.length - todo.length + start, s.prompts.length);
    const batch = todo.slice(start, start + perBatch);
    const inputs = [];
    for (const p of batch) inputs.push(await s.features.input(answerTurn(s.templates, p.question), p.video.path, settings.frames));
    // Every row draws what it would alone (its own seed), so the order of the checks below decides.
    const first = await vlm.generate(inputs, {
      ...sampling, samples: settings.samples, rowSeed: (r, k) => seedOf(batch[r].id, k, 0),
    });
    for (const [r, p] of batch.entries()) {
      const have = stored.get(p.id) ?? [];
      const texts = new Set(have.map((x) => x.text));
      for (let k = 0; k < settings.samples; k++) {
        if (have.some((x) => x.sample === k)) continue;
        let g = first[r * settings.samples + k];
        let attempt = 0;
        while (texts.has(g.text) && attempt < redraws) [g] = await vlm.generate([inputs[r]], { ...sampling, seed: seedOf(p.id, k, ++attempt) });
        texts.add(g.text);
        saveResponse(db, round.id, { promptId: p.id, sample: k, text: g.text, tokenCount: g.tokenIds.length, seed: seedOf(p.id, k, attempt) });
      }
    }
  }
}
