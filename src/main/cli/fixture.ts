// `isr-studio fixture`: writes a small model folder of a supported family with seeded random
// weights, in the layout real checkpoints use; what the tests and the demo run on.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { fixtureArchs, fixtureSizes, writeFixture, type FixtureArch, type FixtureSize } from '../engine/model/fixture';
import { fixtureCorpus } from '../demo/demo-model';
import { choice, integer } from './options';

export function registerFixture(program: Command): void {
  program
    .command('fixture')
    .summary('write a small model folder with seeded random weights (for tests and the demo)')
    .description(
      'write a model folder of a supported family (config.json, model.safetensors, tokenizer.json, ' +
        'tokenizer_config.json, preprocessor_config.json) with seeded random weights, under the weight ' +
        'names real checkpoints use; its tokenizer covers the demo data\'s words',
    )
    .requiredOption('--arch <arch>', `family: ${fixtureArchs.join(' or ')}`, choice(fixtureArchs))
    .requiredOption('--out <dir>', 'folder to write (created if missing)')
    .option('--size <size>', `${fixtureSizes.join(' or ')}: tiny for tests, small (~30M parameters) for benchmarks and the demo`, choice(fixtureSizes), 'tiny')
    .option('--seed <s>', 'seed for the weights', integer(0), 1)
    .action((opts: { arch: FixtureArch; out: string; size: FixtureSize; seed: number }) => {
      const out = resolve(opts.out);
      const { parameters } = writeFixture(out, { arch: opts.arch, size: opts.size, seed: opts.seed, corpus: fixtureCorpus() });
      process.stdout.write(`wrote a ${opts.size} ${opts.arch} model (${(parameters / 1e6).toFixed(2)}M parameters) to ${out}\n`);
    });
}
