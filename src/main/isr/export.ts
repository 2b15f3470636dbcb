// A round's preferences as TRL DPO rows ({prompt, chosen, rejected, video}): overrides applied,
// ties left out. What `isr-studio export`, the History screen and `isr-studio train` share.
import { ApiError } from '../../shared/errors';
import type { Db } from '../store/db';
import { questionAndVideo } from '../store/prompts';
import { effectiveChoice, pairsOf, responsesOf, roundsOf } from '../store/rounds';

export interface TrlDpoRow {
  prompt: string;
  chosen: string;
  rejected: string;
  video: string;
}

export function trlDpoRows(db: Db, runId: number, round: number): TrlDpoRow[] {
  const found = roundsOf(db, runId).find((r) => r.round === round);
  if (!found) throw new ApiError('not_found', `run ${runId} has no round ${round}`);
  const texts = new Map(responsesOf(db, found.id).map((r) => [r.id, r.text]));
  return pairsOf(db, found.id).flatMap((pair) => {
    const choice = effectiveChoice(pair);
    if (choice === 'tie') return [];
    const p = questionAndVideo(db, pair.promptId);
    const [chosen, rejected] = choice === 'a' ? [pair.responseAId, pair.responseBId] : [pair.responseBId, pair.responseAId];
    return [{ prompt: p.question, chosen: texts.get(chosen)!, rejected: texts.get(rejected)!, video: p.path }];
  });
}

export const toJsonl = (rows: readonly object[]): string => rows.map((r) => `${JSON.stringify(r)}\n`).join('');
