// `isr-studio fixture`: writes a model folder of a supported family with seeded random weights, in
// the layout real checkpoints use; what the tests and the demo run on. `--like` writes a real-sized
// stand-in of a published checkpoint instead (its files as published, its tokens at their ids).
import { InvalidArgumentError, type Command } from 'commander';
import { resolve } from 'node:path';
import { checkpointPresetIds } from '../engine/model/checkpoint-presets';
import { fixtureArchs, fixtureSizes, writeCheckpointFixture, writeFixture, type FixtureArch, type FixtureSize } from '../engine/model/fixture';
import { fixtureCorpus } from '../demo/demo-model';
import { choice, integer } from './options';

// save_pretrained's max_shard_size units: decimal KB/MB/GB, binary KiB/MiB/GiB.
const sizeUnits: Record<string, number> = { '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30 };

function byteSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = m ? sizeUnits[m[2].toUpperCase()] : undefined;
  if (!m || unit === undefined || !(Number(m[1]) * unit >= 1)) throw new InvalidArgumentError('expected a size such as 500MB, 2GB, 1GiB or a number of bytes');
  return Math.floor(Number(m[1]) * unit);
}

interface FixtureOpts {
  arch?: FixtureArch;
  like?: string;
  out: string;
  size?: FixtureSize;
  seed: number;
  layers?: number;
  maxShardSize?: number;
}

export function registerFixture(program: Command): void {
  program
    .command('fixture')
    .summary('write a model folder with seeded random weights (for tests and the demo)')
    .description(
      'write a model folder of a supported family (config.json, model.safetensors, tokenizer.json, ' +
        'tokenizer_config.json, preprocessor_config.json, generation_config.json) with seeded random weights, under the weight ' +
        'names real checkpoints use; its tokenizer covers the demo data\'s words and the studio\'s prompts. With --like, a real-sized ' +
        'stand-in of a published checkpoint: its config, processor, generation, chat template and tokenizer ' +
        'files as published, the special tokens at their ids, random weights in its dtype and shards',
    )
    .option('--arch <arch>', `family: ${fixtureArchs.join(' or ')} (this or --like is needed)`, choice(fixtureArchs))
    .option('--like <checkpoint>', `a stand-in of a published checkpoint: ${checkpointPresetIds.join(', ')}`, choice(checkpointPresetIds))
    .requiredOption('--out <dir>', 'folder to write (created if missing)')
    .option('--size <size>', `${fixtureSizes.join(' or ')} (default: tiny): tiny for tests, demo (a 4 x 256 decoder) for the demo, small (~30M parameters) for benchmarks`, choice(fixtureSizes))
    .option('--seed <s>', 'seed for the weights', integer(0), 1)
    .option('--layers <n>', 'with --like: both towers\' layer count, for a smaller folder in tests (default: as published; nothing else changes)', integer(1))
    .option('--max-shard-size <size>', 'with --like: save_pretrained\'s max_shard_size (e.g. 200MB); default: the published layout', byteSize)
    .action((opts: FixtureOpts, command: Command) => {
      const out = resolve(opts.out);
      if (opts.like !== undefined) {
        if (opts.arch !== undefined || opts.size !== undefined) command.error('error: --like writes a published checkpoint\'s stand-in; it cannot be combined with --arch or --size');
        const { parameters } = writeCheckpointFixture(out, { like: opts.like, seed: opts.seed, corpus: fixtureCorpus(), layers: opts.layers, maxShardBytes: opts.maxShardSize });
        process.stdout.write(`wrote a stand-in of ${opts.like} (${(parameters / 1e6).toFixed(2)}M parameters) to ${out}\n`);
        return;
      }
      if (opts.arch === undefined) command.error('error: give --arch (a family) or --like (a published checkpoint)');
      if (opts.layers !== undefined || opts.maxShardSize !== undefined) command.error('error: --layers and --max-shard-size go with --like');
      const size = opts.size ?? 'tiny';
      const { parameters } = writeFixture(out, { arch: opts.arch, size, seed: opts.seed, corpus: fixtureCorpus() });
      process.stdout.write(`wrote a ${size} ${opts.arch} model (${(parameters / 1e6).toFixed(2)}M parameters) to ${out}\n`);
    });
}
