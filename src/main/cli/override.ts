// `isr-studio override`: people's verdicts on a round's pairs from the command line, for scripts and
// for verdicts made in another annotation tool (a JSONL of {pair_id, choice}, e.g. `export` rows
// with a choice added). Every pair and row is checked before any verdict is written.
import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ApiError } from '../../shared/errors';
import { personVerdicts } from '../../shared/types';
import { addOverridesEach, pairPlace, type StoredVerdict } from '../store/review';
import { roundsOf } from '../store/rounds';
import { choice, integer } from './options';
import { openRunDatabase } from './studio-db';

const verdicts = [...personVerdicts, 'cleared'] as const;

interface OverrideOptions {
  db: string;
  run: number;
  round: number;
  pair?: number[];
  all?: boolean;
  from?: string;
  choice?: StoredVerdict;
  author: string;
}

/** The file's verdicts by pair, every row checked (an error names the file and the line). */
function readVerdicts(file: string, fallback: StoredVerdict | undefined): Map<number, StoredVerdict> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  } catch (err) {
    throw new ApiError('bad_input', `cannot read ${file}: ${(err as Error).message}`);
  }
  const out = new Map<number, StoredVerdict>();
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let row: { pair_id?: unknown; choice?: unknown };
    try {
      row = JSON.parse(raw) as typeof row;
    } catch (err) {
      throw new ApiError('bad_input', `${file} line ${line}: not JSON (${(err as Error).message})`);
    }
    if (!Number.isInteger(row.pair_id) || (row.pair_id as number) < 1) throw new ApiError('bad_input', `${file} line ${line}: "pair_id" must be a pair's id (a whole number); got ${JSON.stringify(row.pair_id)}`);
    const verdict = fallback ?? row.choice;
    if (!verdicts.includes(verdict as StoredVerdict)) throw new ApiError('bad_input', `${file} line ${line}: "choice" must be one of ${verdicts.join(', ')} (or give --choice); got ${JSON.stringify(row.choice)}`);
    out.set(row.pair_id as number, verdict as StoredVerdict);
  });
  if (out.size === 0) throw new ApiError('bad_input', `${file} holds no verdict`);
  return out;
}

export function registerOverride(program: Command): void {
  program
    .command('override')
    .summary("give people's verdicts on a round's pairs (a, b, tie, both-bad, cleared)")
    .description(
      "record a person's verdict on pairs of a round, as the Review screen does: a or b (trained towards that response), tie (kept, " +
        'not trained on), both-bad (dropped), cleared (withdraws the verdict in force). Pairs by --pair, every pair of the round with ' +
        '--all, or a JSONL file of {"pair_id": N, "choice": "a"} rows with --from (`isr-studio export` rows carry pair_id). ' +
        'Verdicts are appended: the judge\'s own record never changes.',
    )
    .requiredOption('--db <file>', 'studio database')
    .requiredOption('--run <id>', 'run id', integer(1))
    .requiredOption('--round <n>', 'round number', integer(1))
    .option('--pair <id...>', 'pair ids', (value: string, list: number[] = []) => [...list, integer(1)(value)])
    .option('--all', 'every pair of the round')
    .option('--from <file>', 'a JSONL file of {pair_id, choice} rows')
    .option('--choice <verdict>', `${verdicts.join(', ')} (needed with --pair and --all; with --from, it replaces the file's choices)`, choice(verdicts))
    .addOption(new Option('--author <name>', 'who gave the verdicts (stored with them)').default(process.env.USER ?? '', '$USER'))
    .action((opts: OverrideOptions, command: Command) => {
      const sources = [opts.pair !== undefined, opts.all === true, opts.from !== undefined].filter(Boolean).length;
      if (sources !== 1) command.error('error: give the pairs one way: --pair ID ..., --all or --from FILE.jsonl');
      if (opts.from === undefined && opts.choice === undefined) command.error('error: --choice is required with --pair and --all');
      const db = openRunDatabase(opts.db);
      try {
        const round = roundsOf(db, opts.run).find((r) => r.round === opts.round);
        if (!round) throw new ApiError('not_found', `run ${opts.run} has no round ${opts.round} in ${resolve(opts.db)}`);
        const wanted = opts.from !== undefined
          ? readVerdicts(resolve(opts.from), opts.choice)
          : new Map((opts.all ? (db.prepare('SELECT id FROM pairs WHERE round_id = ? ORDER BY id').pluck().all(round.id) as number[]) : opts.pair!).map((id) => [id, opts.choice!]));
        const foreign = [...wanted.keys()].find((id) => pairPlace(db, id)?.roundId !== round.id);
        if (foreign !== undefined) throw new ApiError('bad_input', `pair ${foreign} is not a pair of run ${opts.run} round ${opts.round}: no verdict was written`);
        const written = addOverridesEach(db, [...wanted].map(([pairId, verdict]) => ({ pairId, verdict })), opts.author);
        process.stdout.write(`recorded ${written} verdict${written === 1 ? '' : 's'} on run ${opts.run} round ${opts.round}\n`);
      } finally {
        db.close();
      }
    });
}
