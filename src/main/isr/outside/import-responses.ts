// `isr-studio import-responses`: a round's responses sampled outside the studio (a vllm-job, or any
// engine writing the same rows) stored as the round's responses phase, so resuming the run writes
// the contexts, judges, reviews and trains on them as on its own (docs/scale.md). Every row is
// checked and every prompt must have all its samples before anything is stored; all of it is stored
// in one transaction with the record that it came from outside.
import { z } from 'zod';
import { ApiError } from '../../../shared/errors';
import { ModelTokenizer } from '../../engine/model/tokenizer';
import type { Db } from '../../store/db';
import { doneOutside, recordOutsideWork } from '../../store/outside-work';
import { responsesOf, saveResponse } from '../../store/rounds';
import { allPrompts } from '../phases/round-scope';
import type { PreferenceFileRow } from '../preference-training';
import { responseSeed } from '../seeds';
import { outsideRound } from './outside-round';
import { count } from '../../../shared/plural';

const int = (field: string) => z.number({ error: (i) => (i.input === undefined ? `${field} is missing` : `${field} must be a whole number`) }).int(`${field} must be a whole number`);
const rowSchema = z.object({
  prompt_id: int('prompt_id'),
  sample: int('sample').min(0, 'sample must be 0 or more'),
  text: z.string({ error: (i) => (i.input === undefined ? 'text is missing' : 'text must be a string') }),
  token_count: int('token_count').min(0, 'token_count must be 0 or more').optional(),
  seed: int('seed').optional(),
});

/** At most this many bad rows are listed; the count says how many there were. */
const listed = 20;

function refuse(file: string, problems: readonly string[]): never {
  const shown = problems.slice(0, listed).join('\n  ');
  const more = problems.length > listed ? `\n  ... and ${problems.length - listed} more` : '';
  throw new ApiError('bad_input', `${file}: ${count(problems.length, 'problem')}, nothing imported:\n  ${shown}${more}`);
}

export function importResponses(db: Db, o: { runId: number; round: number; file: string; rows: readonly PreferenceFileRow[] }): { responses: number; prompts: number } {
  const round = outsideRound(db, o.runId, o.round);
  const where = `round ${o.round} of run ${o.runId}`;
  if (doneOutside(db, round.round.id, 'responses')) throw new ApiError('bad_input', `${where} already took its responses from outside: a round takes one import of them`);
  const stored = responsesOf(db, round.round.id).length;
  if (stored > 0) throw new ApiError('bad_input', `${where} already has ${stored} responses (sampled by the studio): import responses into a round that stopped before sampling (run settings outside.responses)`);
  const { samples } = round.settings;
  const prompts = new Map(allPrompts(db, round.run.datasetId).map((p) => [p.id, p]));
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const good: (z.infer<typeof rowSchema> & { place: string })[] = [];
  for (const row of o.rows) {
    if ('issue' in row) {
      problems.push(`${row.place}: ${row.issue.message}`);
      continue;
    }
    const parsed = rowSchema.safeParse(row.value);
    if (!parsed.success) {
      problems.push(`${row.place}: ${parsed.error.issues[0].message}`);
      continue;
    }
    const r = parsed.data;
    if (!prompts.has(r.prompt_id)) problems.push(`${row.place}: prompt_id ${r.prompt_id} is not a prompt of ${where} (its dataset's prompts are ids ${Math.min(...prompts.keys())} to ${Math.max(...prompts.keys())})`);
    else if (r.sample >= samples) problems.push(`${row.place}: sample ${r.sample} is past the run's ${samples} samples per prompt (0 to ${samples - 1})`);
    else if (seen.has(`${r.prompt_id}:${r.sample}`)) problems.push(`${row.place}: prompt ${r.prompt_id} sample ${r.sample} is also on ${seen.get(`${r.prompt_id}:${r.sample}`)}`);
    else {
      seen.set(`${r.prompt_id}:${r.sample}`, row.place);
      good.push({ ...r, place: row.place });
    }
  }
  const missing = [...prompts.values()].flatMap((p) => Array.from({ length: samples }, (_, k) => k).filter((k) => !seen.has(`${p.id}:${k}`)).map((k) => `prompt ${p.id} (row ${p.rowId}) sample ${k}`));
  if (missing.length > 0) problems.push(`${missing.length} of the round's ${prompts.size * samples} responses are missing: ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}`);
  if (problems.length > 0) refuse(o.file, problems);

  // Lengths as the studio counts them where the file gives none: the policy's tokens of the text.
  const tokenizer = good.some((r) => r.token_count === undefined) ? ModelTokenizer.load(round.policy.path) : null;
  db.transaction(() => {
    for (const r of good) {
      saveResponse(db, round.round.id, {
        promptId: r.prompt_id, sample: r.sample, text: r.text,
        tokenCount: r.token_count ?? tokenizer!.encode(r.text).length,
        seed: r.seed ?? responseSeed({ runSeed: round.settings.seed, round: o.round, promptId: r.prompt_id, sample: r.sample, attempt: 0 }),
      });
    }
    recordOutsideWork(db, round.round.id, { step: 'responses', source: o.file, detail: { responses: good.length, prompts: prompts.size, samples } });
  })();
  return { responses: good.length, prompts: prompts.size };
}
