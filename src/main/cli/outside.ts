// `isr-studio import-adapter` and `isr-studio import-responses`: a round's step done outside the
// studio brought back into it (docs/scale.md), from the jobs `isr-studio export --format trl-job`
// and `--format vllm-job` write, or anything writing the same files. Everything is checked before
// anything is stored; `isr-studio run --resume` then goes on with the round.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { count } from '../../shared/plural';
import { readDatasetFile } from '../api/dataset-file';
import { importAdapter } from '../isr/outside/import-adapter';
import { importResponses } from '../isr/outside/import-responses';
import { roundOptions } from './options';
import { openRunDatabase } from './studio-db';

const resumeHint = (db: string, run: number) => `go on with: isr-studio run --db ${db} --resume ${run}\n`;

export function registerOutside(program: Command): void {
  const importAdapterCommand = program
    .command('import-adapter')
    .summary("a round's PEFT LoRA adapter trained outside the studio, merged as its output policy")
    .description(
      "check a PEFT LoRA adapter (adapter_config.json, adapter_model.safetensors; a trl-job's output/) against the round's policy and the run's settings " +
        '(base model, adapted modules and their shapes, rank, alpha, projector), refuse it naming every mismatch, else merge it as the round\'s output policy ' +
        "as the studio's own training does (<db>.runs/run-N/round-K/), keep its logged steps (metrics.jsonl) for the charts, and record that the round was trained outside. " +
        'The round must have stopped for its training (run settings outside.training).',
    );
  roundOptions(importAdapterCommand)
    .requiredOption('--adapter <dir>', 'the folder holding the adapter')
    .option('--assume-base', "accept an adapter whose base_model_name_or_path names another folder (its modules and shapes are still checked)")
    .action(async (opts: { db: string; run: number; round: number; adapter: string; assumeBase?: boolean }) => {
      const dbPath = resolve(opts.db);
      const db = openRunDatabase(dbPath);
      try {
        const done = await importAdapter(db, { runId: opts.run, round: opts.round, adapterDir: opts.adapter, runsDir: `${dbPath}.runs`, assumeBase: opts.assumeBase === true });
        process.stdout.write(`merged the adapter (${count(done.modules, 'module')}, ${count(done.steps, 'logged step')}) as round ${opts.round}'s output policy: ${done.model}\n${resumeHint(opts.db, opts.run)}`);
      } finally {
        db.close();
      }
    });

  const importResponsesCommand = program
    .command('import-responses')
    .summary("a round's responses sampled outside the studio, stored as its responses")
    .description(
      'store the responses of a round sampled by another engine (a vllm-job\'s responses.jsonl, or JSONL rows {prompt_id, sample, text, token_count?, seed?}): ' +
        'every row is checked (a prompt of the round, a sample number within the run\'s samples, no repeats) and every prompt must have all its samples, ' +
        'else nothing is stored. The round must have stopped before sampling (run settings outside.responses).',
    );
  roundOptions(importResponsesCommand)
    .requiredOption('--file <file>', 'the responses, JSONL (or a JSON array)')
    .action(async (opts: { db: string; run: number; round: number; file: string }) => {
      const file = resolve(opts.file);
      const db = openRunDatabase(opts.db);
      try {
        const rows = await readDatasetFile(file);
        const done = importResponses(db, { runId: opts.run, round: opts.round, file, rows });
        process.stdout.write(`stored ${count(done.responses, 'response')} to ${count(done.prompts, 'prompt')} as round ${opts.round}'s responses\n${resumeHint(opts.db, opts.run)}`);
      } finally {
        db.close();
      }
    });
}
