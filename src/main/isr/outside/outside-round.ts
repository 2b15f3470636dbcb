// The round a step is handed outside for, or brought back into (docs/scale.md): the run, its
// settings, the round and the policy it starts from, each refused in words when missing.
import { ApiError } from '../../../shared/errors';
import type { Db } from '../../store/db';
import { getRun, modelRecord, roundsOf, type RoundRecord, type RunRecord } from '../../store/rounds';
import { parseRunSettings, type RunSettings } from '../settings';

export interface OutsideRound {
  run: RunRecord;
  settings: RunSettings;
  round: RoundRecord;
  /** The round's starting policy: what its responses are sampled from and its training starts from (the DPO reference). */
  policy: { id: number; path: string; family: string; fingerprint: string };
}

export function outsideRound(db: Db, runId: number, round: number): OutsideRound {
  const run = getRun(db, runId);
  if (!run) throw new ApiError('not_found', `no run ${runId} in the database`);
  if (round < 1) throw new ApiError('invalid_argument', `round 0 of run ${runId} is the starting policy's evaluation: it samples and trains nothing`);
  const found = roundsOf(db, runId).find((r) => r.round === round);
  if (!found) {
    const last = roundsOf(db, runId).at(-1)?.round ?? null;
    throw new ApiError('not_found', `run ${runId} has no round ${round} yet (${last === null ? 'it has no round' : `its latest is round ${last}`}): a round exists once the run reaches it, and a run whose settings hand a step outside stops there`);
  }
  return { run, settings: parseRunSettings(run.settings, `run ${runId} settings`), round: found, policy: { id: found.policyModelId, ...modelRecord(db, found.policyModelId) } };
}
