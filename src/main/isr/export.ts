// A round's preferences as TRL DPO rows ({prompt, chosen, rejected, video}, and the studio's
// pair_id, which TRL ignores and `isr-studio override --from` reads back): people's verdicts
// applied, ties and both-bad pairs left out. What `isr-studio export`, the History screen and
// `isr-studio train` share.
import { ApiError } from '../../shared/errors';
import type { Db } from '../store/db';
import { questionAndVideo } from '../store/prompts';
import { trainedSide } from '../store/review';
import { pairsOf, responsesOf, roundsOf } from '../store/rounds';

export interface TrlDpoRow {
  prompt: string;
  chosen: string;
  rejected: string;
  video: string;
  pair_id: number;
}

export function trlDpoRows(db: Db, runId: number, round: number): TrlDpoRow[] {
  const found = roundsOf(db, runId).find((r) => r.round === round);
  if (!found) throw new ApiError('not_found', `run ${runId} has no round ${round}`);
  const texts = new Map(responsesOf(db, found.id).map((r) => [r.id, r.text]));
  return pairsOf(db, found.id).flatMap((pair) => {
    const side = trainedSide(pair);
    if (side === null) return [];
    const p = questionAndVideo(db, pair.promptId);
    const [chosen, rejected] = side === 'a' ? [pair.responseAId, pair.responseBId] : [pair.responseBId, pair.responseAId];
    return [{ prompt: p.question, chosen: texts.get(chosen)!, rejected: texts.get(rejected)!, video: p.path, pair_id: pair.id }];
  });
}

export const toJsonl = (rows: readonly object[]): string => rows.map((r) => `${JSON.stringify(r)}\n`).join('');
